"""CSC authentication: the practitioner's authorization code flow with PKCE (password
+ TOTP on hsba's page), and client credentials for a hospital system that relays the
practitioner's own PIN and OTP. Real HTTP against uvicorn on loopback."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

REDIRECT = "http://127.0.0.1:9/callback"


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()) \
        .rstrip(b"=").decode()
    return verifier, challenge


def _code(env: Any, challenge: str, *, totp: str | None = None) -> httpx.Response:
    login = env.logins["clinician"]
    return httpx.post(f"{env.url}/csc/v2/oauth2/authorize", data={
        "username": login.username, "password": login.secret,
        "totp": totp if totp is not None else env.otp(), "client_id": "signing-app",
        "redirect_uri": REDIRECT, "code_challenge": challenge,
        "code_challenge_method": "S256", "state": "xyz"})


def _exchange(env: Any, code: str, verifier: str) -> httpx.Response:
    return httpx.post(f"{env.url}/csc/v2/oauth2/token", data={
        "grant_type": "authorization_code", "code": code, "code_verifier": verifier,
        "client_id": "signing-app", "redirect_uri": REDIRECT})


def test_authorization_code_with_pkce(csc_env: Any) -> None:
    page = httpx.get(f"{csc_env.url}/csc/v2/oauth2/authorize", params={
        "client_id": "signing-app", "redirect_uri": REDIRECT, "state": "<x>"})
    assert page.status_code == 200 and 'name="totp"' in page.text and "&lt;x&gt;" in page.text
    verifier, challenge = _pkce()
    assert _code(csc_env, challenge, totp="000000").status_code == 401  # wrong TOTP: no code
    r = _code(csc_env, challenge)
    assert r.status_code == 303
    query = parse_qs(urlparse(r.headers["location"]).query)
    assert query["state"] == ["xyz"]
    code = query["code"][0]
    assert _exchange(csc_env, code, "wrong-" + verifier).json()["error"] == "invalid_grant"
    # the failed exchange consumed the code: single use
    assert _exchange(csc_env, code, verifier).json()["error"] == "invalid_grant"
    code = parse_qs(urlparse(_code(csc_env, challenge).headers["location"]).query)["code"][0]
    token = _exchange(csc_env, code, verifier).json()["access_token"]
    ids = httpx.post(f"{csc_env.url}/csc/v2/credentials/list", json={},
                     headers={"Authorization": f"Bearer {token}"}).json()["credentialIDs"]
    assert ids == [csc_env.logins["clinician"].key_id]
    assert _exchange(csc_env, code, verifier).json()["error"] == "invalid_grant"  # replay


def test_plain_pkce_and_foreign_redirects_are_refused(csc_env: Any) -> None:
    _, challenge = _pkce()
    login = csc_env.logins["clinician"]
    for method, redirect in (("plain", REDIRECT), ("S256", "http://evil.example/cb")):
        r = httpx.post(f"{csc_env.url}/csc/v2/oauth2/authorize", data={
            "username": login.username, "password": login.secret, "totp": csc_env.otp(),
            "client_id": "signing-app", "redirect_uri": redirect, "code_challenge": challenge,
            "code_challenge_method": method})
        assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_hospital_system_relays_the_practitioners_factors(csc_env: Any) -> None:
    his = csc_env.logins["integration"]
    r = httpx.post(f"{csc_env.url}/csc/v2/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": his.username,
        "client_secret": his.secret})
    token = r.json()["access_token"]
    h = {"Authorization": f"Bearer {token}"}
    doctor = csc_env.logins["clinician"]
    ids = httpx.post(f"{csc_env.url}/csc/v2/credentials/list", headers=h,
                     json={"userID": doctor.username}).json()["credentialIDs"]
    assert ids == [doctor.key_id]
    digest = base64.b64encode(hashlib.sha256(b"his document").digest()).decode()
    body = {"credentialID": doctor.key_id, "numSignatures": 1, "hashes": [digest],
            "PIN": doctor.signing_pin, "OTP": "000000"}
    assert httpx.post(f"{csc_env.url}/csc/v2/credentials/authorize", headers=h,
                      json=body).json()["error"] == "invalid_otp"
    sad = httpx.post(f"{csc_env.url}/csc/v2/credentials/authorize", headers=h,
                     json={**body, "OTP": csc_env.otp()}).json()["SAD"]
    sig = httpx.post(f"{csc_env.url}/csc/v2/signatures/signHash", headers=h, json={
        "credentialID": doctor.key_id, "SAD": sad, "hashes": [digest],
        "signAlgo": "1.2.840.113549.1.1.11", "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1"})
    assert len(sig.json()["signatures"]) == 1
    bad = httpx.post(f"{csc_env.url}/csc/v2/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": his.username, "client_secret": "x"})
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    assert httpx.post(f"{csc_env.url}/csc/v2/oauth2/token", data={
        "grant_type": "password"}).json()["error"] == "unsupported_grant_type"
