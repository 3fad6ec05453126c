"""Sole control: every refusal gets the CSC error the specification names, and NOTHING
is signed — no signature in the answer, the key's usage counter unchanged, and the
refusal in the audit chain. Real HTTP against uvicorn on loopback."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

import httpx
import pyotp
import pytest

from api.csc.state import MAX_FAILED_ATTEMPTS

SHA256 = "2.16.840.1.101.3.4.2.1"
SHA256_RSA = "1.2.840.113549.1.1.11"


def _h(i: int) -> str:
    return base64.b64encode(hashlib.sha256(f"signed attributes {i}".encode()).digest()).decode()


class Client:
    def __init__(self, env: Any, role: str = "clinician") -> None:
        self.env = env
        self.role = role
        self.login = env.logins[role]
        self.headers = {"Authorization": f"Bearer {env.token(role)}"}

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(f"{self.env.url}/csc/v2/{path}", json=body, headers=self.headers)

    def authorize(self, hashes: list[str], *, pin: str | None = None, otp: str | None = None,
                  credential: str | None = None, n: int | None = None) -> httpx.Response:
        return self.post("credentials/authorize", {
            "credentialID": credential or self.login.key_id,
            "numSignatures": len(hashes) if n is None else n, "hashes": hashes,
            "hashAlgorithmOID": SHA256, "PIN": self.login.signing_pin if pin is None else pin,
            "OTP": self.env.otp(self.role) if otp is None else otp})

    def sign(self, sad: str, hashes: list[str], *, credential: str | None = None,
             version: str = "v2") -> httpx.Response:
        return httpx.post(f"{self.env.url}/csc/{version}/signatures/signHash", headers=self.headers,
                          json={"credentialID": credential or self.login.key_id, "SAD": sad,
                                "hashes": hashes, "hashAlgorithmOID": SHA256,
                                "signAlgo": SHA256_RSA})


def _refusals(env: Any, since: int) -> list[dict[str, Any]]:
    return [e.details for e in env.services.audit.entries(after_seq=since, limit=100000)
            if e.details.get("csc") and e.details.get("outcome") == "refused"]


def _last_seq(env: Any) -> int:
    entries = env.services.audit.entries(limit=1000000)
    return entries[-1].seq if entries else 0


def _assert_refused(env: Any, r: httpx.Response, status: int, error: str, key_id: str,
                    usage_before: int, since: int, description: str | None = None) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == error, body
    if description:
        assert body["error_description"].startswith(description), body
    assert "signatures" not in body and "SAD" not in body
    assert body["message_vi"] and body["message_en"]
    assert env.csc.signer.usage(key_id) == usage_before
    assert any(d.get("error") == error for d in _refusals(env, since)), _refusals(env, since)


@pytest.fixture()
def client(csc_env: Any) -> Client:
    return Client(csc_env)


def test_wrong_pin_and_wrong_otp(csc_env: Any, client: Client) -> None:
    key, usage, since = client.login.key_id, csc_env.csc.signer.usage(client.login.key_id), \
        _last_seq(csc_env)
    _assert_refused(csc_env, client.authorize([_h(1)], pin="000000"), 400, "invalid_pin", key,
                    usage, since)
    _assert_refused(csc_env, client.authorize([_h(1)], otp="000000"), 400, "invalid_otp", key,
                    usage, since)
    # a correct authorisation resets the failure count
    assert client.authorize([_h(1)]).status_code == 200


def test_replayed_sad_signs_once(csc_env: Any, client: Client) -> None:
    key = client.login.key_id
    sad = client.authorize([_h(2)]).json()["SAD"]
    first = client.sign(sad, [_h(2)])
    assert first.status_code == 200 and len(first.json()["signatures"]) == 1
    usage, since = csc_env.csc.signer.usage(key), _last_seq(csc_env)
    _assert_refused(csc_env, client.sign(sad, [_h(2)]), 400, "invalid_request", key, usage,
                    since, "Invalid parameter SAD")
    _assert_refused(csc_env, client.sign(sad, [_h(2)], version="v1"), 400, "invalid_request",
                    key, usage, since, "Invalid parameter SAD")


def test_hash_not_covered_by_the_sad(csc_env: Any, client: Client) -> None:
    key = client.login.key_id
    sad = client.authorize([_h(3), _h(4)]).json()["SAD"]
    usage, since = csc_env.csc.signer.usage(key), _last_seq(csc_env)
    for hashes in ([_h(3), _h(5)], [_h(3)], [_h(3), _h(4), _h(4)]):
        _assert_refused(csc_env, client.sign(sad, hashes), 400, "invalid_request", key, usage,
                        since, "Invalid parameter hash")
    # the SAD was not consumed by the refusals: the exact hashes still sign
    assert len(client.sign(sad, [_h(4), _h(3)]).json()["signatures"]) == 2


def test_count_must_match_the_hashes(csc_env: Any, client: Client) -> None:
    key, usage, since = client.login.key_id, csc_env.csc.signer.usage(client.login.key_id), \
        _last_seq(csc_env)
    _assert_refused(csc_env, client.authorize([_h(6)], n=2), 400, "invalid_request", key,
                    usage, since)
    _assert_refused(csc_env, client.post("credentials/authorize", {
        "credentialID": key, "numSignatures": 1, "PIN": client.login.signing_pin,
        "OTP": csc_env.otp()}), 400, "invalid_request", key, usage, since)  # SCAL2: no hashes


def test_expired_sad(csc_env: Any, client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    key = client.login.key_id
    monkeypatch.setattr(csc_env.csc, "sad_ttl_s", 1)
    sad = client.authorize([_h(7)]).json()["SAD"]
    time.sleep(1.2)
    usage, since = csc_env.csc.signer.usage(key), _last_seq(csc_env)
    _assert_refused(csc_env, client.sign(sad, [_h(7)]), 400, "invalid_request", key, usage,
                    since, "SAD expired")


def test_another_practitioners_credential(csc_env: Any, client: Client) -> None:
    other = csc_env.logins["head_of_department"]
    usage, since = csc_env.csc.signer.usage(other.key_id), _last_seq(csc_env)
    # even with the other practitioner's own PIN and OTP
    r = client.authorize([_h(8)], credential=other.key_id, pin=other.signing_pin,
                         otp=pyotp.TOTP(other.totp_secret).now())
    _assert_refused(csc_env, r, 403, "access_denied", other.key_id, usage, since)
    theirs = Client(csc_env, "head_of_department")
    sad = theirs.authorize([_h(8)]).json()["SAD"]
    _assert_refused(csc_env, client.sign(sad, [_h(8)], credential=other.key_id), 403,
                    "access_denied", other.key_id, usage, since)
    # a SAD of one practitioner does not sign for another's credential either
    own_sad = client.authorize([_h(8)]).json()["SAD"]
    _assert_refused(csc_env, theirs.sign(own_sad, [_h(8)]), 400, "invalid_request",
                    other.key_id, usage, since, "Invalid parameter SAD")


def test_unknown_credential_and_missing_token(csc_env: Any, client: Client) -> None:
    usage = csc_env.csc.signer.usage(client.login.key_id)
    r = client.authorize([_h(9)], credential="no-such-key")
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    r = httpx.post(f"{csc_env.url}/csc/v1/signatures/signHash", json={"credentialID": "x"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"
    assert csc_env.csc.signer.usage(client.login.key_id) == usage


def test_repeated_wrong_pins_lock_the_credential(csc_env: Any) -> None:
    """Runs on the nurse's credential so the other tests keep theirs."""
    nurse = Client(csc_env, "nurse")
    key, since = nurse.login.key_id, _last_seq(csc_env)
    usage = csc_env.csc.signer.usage(key)
    for _ in range(MAX_FAILED_ATTEMPTS):
        assert nurse.authorize([_h(10)], pin="999999").json()["error"] == "invalid_pin"
    # now even the right PIN and OTP are refused
    _assert_refused(csc_env, nurse.authorize([_h(10)]), 403, "access_denied", key, usage, since,
                    "The credential is locked")
    info = nurse.post("credentials/info", {"credentialID": key}).json()
    assert info["key"]["status"] == "disabled"
    assert any(d.get("error") == "locked" for d in _refusals(csc_env, since))
    csc_env.csc.state.unlock(key)
    assert nurse.authorize([_h(10)]).status_code == 200


HOSTILE_BODIES: list[Any] = [
    [], "x", 1, None, {"credentialID": 5}, {"credentialID": ["a"]},
    {"credentialID": "k", "SAD": {"a": 1}, "hashes": "abc"},
    {"numSignatures": True, "hashes": [1, 2]}, {"numSignatures": 10**9, "hashes": []},
    {"hashes": ["%%%"], "numSignatures": 1}, {"signAlgo": "1.2.3.4.5", "SAD": "s"},
    {"signAlgo": "not an oid", "signAlgoParams": "////", "SAD": "s", "hashes": ["AA=="]},
    {"signAlgo": "1.2.840.113549.1.1.10", "signAlgoParams": "MAA=", "SAD": "s",
     "hashes": ["AA=="], "hashAlgo": "1.2.3"},
    {"certificates": {"x": 1}, "certInfo": "yes"}, {"userID": ["a"], "credentialInfo": 3},
]


def test_hostile_bodies_get_client_errors_and_sign_nothing(csc_env: Any, client: Client) -> None:
    key = client.login.key_id
    usage = csc_env.csc.signer.usage(key)
    for version, paths in (("v2", ("credentials/list", "credentials/info",
                                   "credentials/authorize", "signatures/signHash")),
                           ("v1", ("signatures/signHash",))):
        for path in paths:
            for body in HOSTILE_BODIES:
                if isinstance(body, dict) and "credentialID" not in body:
                    body = {**body, "credentialID": key}
                r = httpx.post(f"{csc_env.url}/csc/{version}/{path}", json=body,
                               headers=client.headers)
                assert r.status_code < 500, (path, body, r.text)
                assert "signatures" not in r.json() and "SAD" not in r.json()
        r = httpx.post(f"{csc_env.url}/csc/{version}/signatures/signHash",
                       content=b"\xff\xfe not json", headers=client.headers)
        assert r.status_code == 400
    assert csc_env.csc.signer.usage(key) == usage


def test_expired_certificate_is_not_authorised(csc_env: Any) -> None:
    """A practitioner whose key's certificate has expired gets no SAD (status checked
    before signing), even with the right PIN and OTP."""
    from hsm.subjects import PractitionerSubject

    ks, pki = csc_env.services.keystore, csc_env.services.pki
    key_id = "t-csc-expired"
    ks.generate_key(key_id, "rsa2048")
    ks.store_certificate(key_id, pki.issue_practitioner(ks.public_key(key_id), PractitionerSubject(
        name="Hết Hạn", title="Bác sĩ", facility="BV Demo", practitioner_id=key_id), days=0),
        pki.chain())
    secret, totp = "Expired-2026-pass", pyotp.random_base32()
    csc_env.services.accounts.create(
        tenant="70001", kind="staff", username="bs.hethan", role="clinician", secret=secret,
        totp_secret=totp, signing_pin="135790", key_id=key_id)
    token = httpx.post(f"{csc_env.url}/csc/v2/auth/login", auth=("bs.hethan", secret),
                       json={"OTP": pyotp.TOTP(totp).now()}).json()["access_token"]
    since = _last_seq(csc_env)
    time.sleep(1.1)  # the certificate's notAfter (whole seconds) is now in the past
    r = httpx.post(f"{csc_env.url}/csc/v2/credentials/authorize",
                   headers={"Authorization": f"Bearer {token}"}, json={
                       "credentialID": key_id, "numSignatures": 1, "hashes": [_h(11)],
                       "PIN": "135790", "OTP": pyotp.TOTP(totp).now()})
    _assert_refused(csc_env, r, 400, "invalid_request", key_id, 0, since,
                    "Invalid parameter credentialID: the certificate is expired")
