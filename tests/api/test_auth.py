"""Authentication: logins per kind, and every kind of bad token refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pyotp
from jose import jwt

from tests.api.conftest import ApiEnv, login_token


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(env: ApiEnv, **over: object) -> dict[str, object]:
    login = env.logins["clinician"]
    account = env.services.accounts.find("staff", login.username)
    assert account is not None
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": env.settings.jwt_issuer, "aud": env.settings.jwt_audience, "sub": account.id,
        "iat": now, "exp": now + 300, "hsba:tenant": account.tenant, "hsba:role": "admin",
        "hsba:kind": "staff",
    }
    claims.update(over)
    return claims


def _me(env: ApiEnv, token: str) -> int:
    return env.client.get("/api/v1/auth/me",
                          headers={"Authorization": f"Bearer {token}"}).status_code


def test_each_login_kind_gets_a_working_token(api_env: ApiEnv) -> None:
    for role in ("clinician", "integration", "kiosk", "auditor"):
        token = login_token(api_env.client, api_env.logins[role])
        r = api_env.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        assert r.json()["role"] == role
        assert r.json()["tenant"] == "70001"
    kiosk = api_env.client.get("/api/v1/auth/me", headers=api_env.headers("kiosk")).json()
    assert kiosk["department"] == api_env.logins["kiosk"].department and kiosk["department"]


def test_staff_login_needs_password_and_totp(api_env: ApiEnv) -> None:
    login = api_env.logins["clinician"]
    c = api_env.client
    bad_totp = str((int(pyotp.TOTP(login.totp_secret).now()) + 500_000) % 1_000_000).zfill(6)
    for body in (
        {"username": login.username, "password": login.secret},
        {"username": login.username, "password": login.secret, "totp": bad_totp},
        {"username": login.username, "password": "wrong",
         "totp": pyotp.TOTP(login.totp_secret).now()},
        {"username": "nobody", "password": "x", "totp": "000000"},
    ):
        r = c.post("/api/v1/auth/login", json=body)
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["message_vi"] and r.json()["message_en"]


def test_client_credentials_with_basic_auth(api_env: ApiEnv) -> None:
    login = api_env.logins["integration"]
    basic = base64.b64encode(f"{login.username}:{login.secret}".encode()).decode()
    r = api_env.client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                            headers={"Authorization": f"Basic {basic}"})
    assert r.status_code == 200
    r = api_env.client.post("/api/v1/oauth/token", data={"grant_type": "password"},
                            headers={"Authorization": f"Basic {basic}"})
    assert r.status_code == 422


def test_forged_tokens_are_refused(api_env: ApiEnv) -> None:
    env = api_env
    ring = env.client.app.state.tokens.ring  # type: ignore[attr-defined]
    key = ring.active
    good = jwt.encode(_claims(env), key.private_pem.decode(), algorithm="ES256",
                      headers={"kid": key.kid})
    assert _me(env, good) == 200  # the control: a well-formed token passes

    header = {"alg": "none", "typ": "JWT", "kid": key.kid}
    none_token = (_b64(json.dumps(header).encode()) + "."
                  + _b64(json.dumps(_claims(env)).encode()) + ".")
    assert _me(env, none_token) == 401

    # HS256 "signed" with the public key (RS/HS confusion)
    # (made by hand: python-jose itself refuses to use a PEM key as an HMAC secret)
    signing_input = (_b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid}).encode())
                     + "." + _b64(json.dumps(_claims(env)).encode()))
    mac = hmac.new(key.public_pem, signing_input.encode(), hashlib.sha256).digest()
    hs = signing_input + "." + _b64(mac)
    assert _me(env, hs) == 401

    expired = jwt.encode(_claims(env, exp=int(time.time()) - 3600, iat=int(time.time()) - 7200),
                         key.private_pem.decode(), algorithm="ES256", headers={"kid": key.kid})
    assert _me(env, expired) == 401

    wrong_aud = jwt.encode(_claims(env, aud="another-api"), key.private_pem.decode(),
                           algorithm="ES256", headers={"kid": key.kid})
    assert _me(env, wrong_aud) == 401

    wrong_iss = jwt.encode(_claims(env, iss="evil"), key.private_pem.decode(),
                           algorithm="ES256", headers={"kid": key.kid})
    assert _me(env, wrong_iss) == 401

    oversized = jwt.encode(_claims(env, pad="x" * 9000), key.private_pem.decode(),
                           algorithm="ES256", headers={"kid": key.kid})
    assert _me(env, oversized) == 401

    # signed by a key the service never issued (attacker's own ES256 key)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    attacker = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    forged = jwt.encode(_claims(env), attacker, algorithm="ES256", headers={"kid": key.kid})
    assert _me(env, forged) == 401
    unknown_kid = jwt.encode(_claims(env), attacker, algorithm="ES256",
                             headers={"kid": "attacker"})
    assert _me(env, unknown_kid) == 401

    tampered = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    assert _me(env, tampered) == 401
    assert _me(env, "not.a.jwt") == 401
    assert env.client.get("/api/v1/auth/me").status_code == 401


def test_jwks_and_key_rotation(api_env: ApiEnv) -> None:
    env = api_env
    before = env.client.get("/.well-known/jwks.json").json()["keys"]
    assert all(k["alg"] == "ES256" and "d" not in k for k in before)
    old_token = env.token("clinician")
    r = env.client.post("/api/v1/admin/token-keys/rotate", headers=env.headers("admin"))
    assert r.status_code == 200
    new_kid = r.json()["kid"]
    after = env.client.get("/.well-known/jwks.json").json()["keys"]
    assert new_kid in {k["kid"] for k in after} and len(after) == len(before) + 1
    assert _me(env, old_token) == 200  # the old key still verifies
    new_token = env.token("clinician")
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    ring = env.client.app.state.tokens.ring  # type: ignore[attr-defined]
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    ring.retire(old_kid)
    assert _me(env, old_token) == 401
    assert _me(env, new_token) == 200


def test_a_checked_token_is_remembered_only_while_valid(tmp_path, monkeypatch) -> None:
    """The verified-token cache (one full check per token, not per request) still refuses
    a token once it expires or once its signing key is retired."""
    import pytest

    from api.auth import tokens
    from api.auth.keys import TokenKeyRing
    from api.auth.tokens import Principal, TokenService
    from core.errors import Unauthorized

    ring = TokenKeyRing(tmp_path / "keys")
    service = TokenService(ring, issuer="iss", audience="aud", ttl_s=60)
    principal = Principal("acc-1", "70001", "clinician", "staff")
    token, _ = service.issue(principal)
    calls = []
    full = service._verify_fully
    monkeypatch.setattr(service, "_verify_fully", lambda t: calls.append(t) or full(t))
    assert service.verify(token).subject == service.verify(token).subject == "acc-1"
    assert len(calls) == 1, "the second request is answered from the cache"

    later = time.time() + 60 + 31  # past exp plus the leeway

    class Later:
        @staticmethod
        def time() -> float:
            return later

    monkeypatch.setattr(tokens, "time", Later)
    service.verify(token)  # jose's own clock still finds it valid; the cache must not answer
    assert len(calls) == 2, "an expired cache entry goes back to the full check"
    monkeypatch.undo()

    token2, _ = service.issue(principal)
    assert service.verify(token2).subject == "acc-1"
    ring.rotate()
    ring.retire(jwt.get_unverified_header(token2)["kid"])
    with pytest.raises(Unauthorized):
        service.verify(token2)
