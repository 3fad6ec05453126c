"""A small CA and seal key for the XML signature tests, made with ``cryptography``.

The SoftHSM2 variant (the hospital seal on the token) is in test_xml_services.py.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


@dataclass
class Pki:
    root_der: bytes
    root_pem: bytes
    signers: dict[str, object]


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Trung tâm Y tế Test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject_key, issuer_key, subject: str, issuer: str, ca: bool, serial: int):
    now = dt.datetime.now(dt.UTC)
    b = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
         .public_key(subject_key.public_key()).serial_number(serial)
         .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        b = b.add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False,
                                          False), critical=True)
    return b.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="session")
def xml_pki(tmp_path_factory) -> Pki:
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from pyhanko.sign.signers import SimpleSigner
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root = _cert(root_key, root_key, "XML Test Root CA", "XML Test Root CA", True, 1001)
    signers = {}
    for label, key, serial in [
        ("seal-rsa", rsa.generate_private_key(public_exponent=65537, key_size=2048), 1002),
        ("seal-ec", ec.generate_private_key(ec.SECP256R1()), 1003),
        ("weak-rsa", rsa.generate_private_key(public_exponent=65537, key_size=1024), 1004),
    ]:
        cert = _cert(key, root_key, f"Con dấu {label}", "XML Test Root CA", False, serial)
        der_key = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        signers[label] = SimpleSigner(
            signing_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
            signing_key=asn1_keys.PrivateKeyInfo.load(der_key),
            cert_registry=SimpleCertificateStore.from_certs([]),
        )
    root_der = root.public_bytes(serialization.Encoding.DER)
    root_pem = root.public_bytes(serialization.Encoding.PEM)
    return Pki(root_der, root_pem, signers)
