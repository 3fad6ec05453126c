"""TT 15/2025/TT-BKHCN algorithm rules on certificates of every key type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from core.errors import SigningError
from signer.algorithms import check_key_and_digest, describe_key


def _cert(key) -> asn1_x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")])
    now = datetime.now(UTC)
    algo = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now).not_valid_after(now + timedelta(days=1))
            .sign(key, algo))
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


@pytest.mark.parametrize("key,name", [
    (lambda: rsa.generate_private_key(65537, 2048), "RSA-2048"),
    (lambda: rsa.generate_private_key(65537, 3072), "RSA-3072"),
    (lambda: ec.generate_private_key(ec.SECP256R1()), "ECDSA-P-256"),
    (lambda: ec.generate_private_key(ec.SECP384R1()), "ECDSA-P-384"),
])
def test_allowed(key, name):
    cert = _cert(key())
    assert describe_key(cert) == name
    for md in ("sha256", "sha384", "sha512"):
        check_key_and_digest(cert, md)


@pytest.mark.parametrize("key,code", [
    (lambda: rsa.generate_private_key(65537, 1024), "sign.weak_key"),
    (lambda: rsa.generate_private_key(65537, 1536), "sign.weak_key"),
    (lambda: ec.generate_private_key(ec.SECP224R1()), "sign.weak_key"),
    (lambda: ec.generate_private_key(ec.SECP256K1()), "sign.weak_key"),
    (lambda: ed25519.Ed25519PrivateKey.generate(), "sign.unsupported_key"),
])
def test_refused_keys(key, code):
    with pytest.raises(SigningError) as e:
        check_key_and_digest(_cert(key()), "sha256")
    assert e.value.code == code and e.value.message_vi and e.value.message_en


@pytest.mark.parametrize("md", ["sha1", "md5", "sha224"])
def test_refused_digests(md):
    cert = _cert(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(SigningError) as e:
        check_key_and_digest(cert, md)
    assert e.value.code == "sign.weak_digest"


def test_no_certificate_refused():
    with pytest.raises(SigningError):
        check_key_and_digest(None, "sha256")
