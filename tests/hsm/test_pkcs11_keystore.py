"""Pkcs11Keystore on a real SoftHSM2 token: pooled sessions, lost sessions, signatures."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asn1crypto import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.serialization import load_der_public_key
from pkcs11 import Attribute, ObjectClass
from pkcs11.exceptions import AttributeSensitive

from core.errors import KeyCustodyError, NotFound
from hsm.dev_pki import DevPki
from hsm.enrolment import enroll, install_certificate
from hsm.keystore import KeyStore
from hsm.pkcs11 import Pkcs11Keystore
from hsm.subjects import PractitionerSubject

pytestmark = pytest.mark.services


def _certified(ks: Pkcs11Keystore, pki: DevPki, key_id: str, algorithm: str) -> str:
    subject = PractitionerSubject(name="Lê Văn Chí", title="Bác sĩ", facility="BV Demo",
                                  practitioner_id=key_id)
    req = enroll(ks, key_id, subject, algorithm)
    install_certificate(ks, req.key_id, pki.issue_practitioner(req.csr_pem), pki.chain())
    return req.key_id


@pytest.mark.parametrize(("algorithm", "pss", "mechanism"), [
    ("rsa2048", False, "sha256_rsa"),
    ("rsa2048", True, "rsassa_pss"),
    ("ecdsa-p256", False, "sha256_ecdsa"),
    ("ecdsa-p384", False, "sha256_ecdsa"),
])
def test_pdf_signatures_validate(
    token_keystore: Pkcs11Keystore, dev_pki: DevPki, one_page_pdf: bytes, key_prefix: str,
    sign_and_validate, algorithm: str, pss: bool, mechanism: str,
) -> None:
    assert isinstance(token_keystore, KeyStore)
    key_id = _certified(token_keystore, dev_pki, f"{key_prefix}-k", algorithm)
    signer = token_keystore.signer_for(key_id, pss=pss)
    assert token_keystore.signer_for(key_id, pss=pss) is signer
    assert signer.signing_cert.dump() == token_keystore.certificate(key_id).dump()
    assert {c.dump() for c in dev_pki.chain()} <= {c.dump() for c in signer.cert_registry}
    _, status = asyncio.run(sign_and_validate(
        one_page_pdf, signer, validation_context=dev_pki.revocation_source().validation_context()))
    assert status.bottom_line, status.summary()
    assert status.pkcs7_signature_mechanism == mechanism


def test_raw_signatures_verify_with_the_certificate(
    token_keystore: Pkcs11Keystore, dev_pki: DevPki, key_prefix: str,
) -> None:
    for algorithm in ("rsa2048", "ecdsa-p256"):
        key_id = _certified(token_keystore, dev_pki, f"{key_prefix}-{algorithm}", algorithm)
        pub = load_der_public_key(token_keystore.certificate(key_id).public_key.dump())
        sig = token_keystore.sign_raw(key_id, b"phieu ket qua xet nghiem")
        if isinstance(pub, ec.EllipticCurvePublicKey):
            pub.verify(sig, b"phieu ket qua xet nghiem", ec.ECDSA(hashes.SHA256()))
        else:
            pub.verify(sig, b"phieu ket qua xet nghiem", padding.PKCS1v15(),  # type: ignore[union-attr, call-arg]
                       hashes.SHA256())


def test_private_keys_are_sensitive_and_not_extractable(
    token_keystore: Pkcs11Keystore, dev_pki: DevPki, key_prefix: str,
) -> None:
    ids = [_certified(token_keystore, dev_pki, f"{key_prefix}-{a}", a)
           for a in ("rsa2048", "ecdsa-p256")]

    def check(pooled):  # type: ignore[no-untyped-def]
        for key_id in ids:
            (key,) = pooled.session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                                                 Attribute.LABEL: key_id})
            assert key[Attribute.EXTRACTABLE] is False
            assert key[Attribute.SENSITIVE] is True
            assert key[Attribute.NEVER_EXTRACTABLE] is True
            assert key[Attribute.LOCAL] is True  # generated on the token
            with pytest.raises(AttributeSensitive):
                key[Attribute.PRIVATE_EXPONENT if "rsa" in key_id else Attribute.VALUE]
    token_keystore.pool.run(check, what="inspect")


def test_sessions_are_pooled_no_login_per_signature(
    token_keystore: Pkcs11Keystore, dev_pki: DevPki, key_prefix: str,
) -> None:
    key_id = _certified(token_keystore, dev_pki, f"{key_prefix}-p", "ecdsa-p256")
    signer = token_keystore.signer_for(key_id)
    pool = token_keystore.pool
    logins, opened = pool.logins, pool.sessions_opened
    for _ in range(20):
        asyncio.run(signer.async_sign_raw(b"data", "sha256"))
    assert pool.logins == logins  # no login per signature
    assert pool.sessions_opened == opened  # the same session reused

    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(10):
                token_keystore.sign_raw(key_id, b"concurrent")
        except BaseException as e:  # noqa: BLE001
            errors.append(e)
    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, [repr(e.__cause__) for e in errors]
    assert pool.sessions_opened <= opened + pool.size
    assert pool.logins == logins


def test_a_lost_session_is_reopened_and_the_signature_retried(
    token_keystore: Pkcs11Keystore, dev_pki: DevPki, key_prefix: str,
) -> None:
    key_id = _certified(token_keystore, dev_pki, f"{key_prefix}-l", "ecdsa-p256")
    pool = token_keystore.pool
    token_keystore.sign_raw(key_id, b"warm up")
    # the HSM drops our idle worker sessions (e.g. HSM restart, network HSM timeout)
    for pooled in list(pool._idle):
        pooled.session.close()
    reopened = pool.reopened
    pub = load_der_public_key(token_keystore.public_key(key_id).dump())
    sig = token_keystore.sign_raw(key_id, b"after loss")
    assert isinstance(pub, ec.EllipticCurvePublicKey)
    pub.verify(sig, b"after loss", ec.ECDSA(hashes.SHA256()))
    assert pool.reopened > reopened


def test_a_lost_login_is_restored(
    token_keystore: Pkcs11Keystore, dev_pki: DevPki, key_prefix: str,
) -> None:
    key_id = _certified(token_keystore, dev_pki, f"{key_prefix}-g", "ecdsa-p256")
    signer = token_keystore.signer_for(key_id)
    asyncio.run(signer.async_sign_raw(b"x", "sha256"))
    logins = token_keystore.pool.logins
    # the login session is closed underneath: C_Logout logs every session out
    anchor = token_keystore.pool._login._session
    assert anchor is not None
    anchor.close()
    sig = asyncio.run(signer.async_sign_raw(b"y", "sha256"))
    assert sig
    assert token_keystore.pool.logins == logins + 1


def test_errors_are_domain_errors(token_keystore: Pkcs11Keystore, hsm_token) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotFound):
        token_keystore.signer_for("t-no-such-key")
    with pytest.raises(KeyCustodyError) as e:
        Pkcs11Keystore(hsm_token.module, "no-such-token", "0000").list_keys()
    assert e.value.code == "keys.token_not_found"
    with pytest.raises(KeyCustodyError):
        token_keystore.generate_key("t-weak", "rsa1024")


def test_certificates_on_the_token_are_asn1(token_keystore: Pkcs11Keystore, dev_pki: DevPki,
                                            key_prefix: str) -> None:
    key_id = _certified(token_keystore, dev_pki, f"{key_prefix}-c", "ecdsa-p256")
    assert isinstance(token_keystore.certificate(key_id), x509.Certificate)
    assert [c.dump() for c in token_keystore.chain(key_id)] == [c.dump() for c in dev_pki.chain()]
