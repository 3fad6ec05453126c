"""Key enrolment: a key pair made inside the key store, a CSR, the issued certificate.

1. :func:`enroll` generates the key pair in the store (on an HSM: on the token,
   sensitive and non-extractable), builds the PKCS#10 request with asn1crypto
   and has the *store* sign it, and returns the CSR (PEM) with the key id.
2. The CA issues a certificate (in development: ``DevPki.issue_practitioner``).
3. :func:`install_certificate` checks that the certificate matches the key and
   stores it with its chain; the replaced certificate stays in the key's
   history for verifying old signatures.

Rotation: renewing a certificate on the same key keeps the old one in
``KeyInfo.history``; enrolling a practitioner again makes a new key
``{practitioner_id}~{n}``, and once it is certified the old key shows as
``rotated`` (its certificates stay available).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from asn1crypto import core, csr, pem, x509

from core.errors import InvalidInput, KeyCustodyError
from hsm.keystore import KeyInfo, KeyStore, algorithm_of, check_algorithm, validate_key_id
from hsm.subjects import OrganisationSubject, PractitionerSubject

__all__ = ["EnrolmentRequest", "enroll", "install_certificate", "load_certificates"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EnrolmentRequest:
    """What :func:`enroll` hands to the CA."""

    key_id: str
    """The new key's id in the store (give it to ``install-cert``)."""
    csr_pem: bytes
    """PKCS#10 certification request, PEM, signed by the new key."""
    algorithm: str


def _next_key_id(keystore: KeyStore, practitioner_id: str) -> str:
    existing = {k.key_id for k in keystore.list_keys()}
    if practitioner_id not in existing:
        return practitioner_id
    n = 2
    while f"{practitioner_id}~{n}" in existing:
        n += 1
    return f"{practitioner_id}~{n}"


def enroll(
    keystore: KeyStore,
    practitioner_id: str,
    subject: PractitionerSubject | OrganisationSubject,
    algorithm: str = "rsa2048",
    *,
    key_id: str | None = None,
) -> EnrolmentRequest:
    """Generate a key pair inside ``keystore`` and return a CSR signed by it."""
    validate_key_id(practitioner_id)
    check_algorithm(algorithm)
    if isinstance(subject, PractitionerSubject) and subject.practitioner_id is None:
        subject = PractitionerSubject(**{**subject.__dict__, "practitioner_id": practitioner_id})
    name = subject.to_asn1()
    key_id = validate_key_id(key_id or _next_key_id(keystore, practitioner_id))
    public_key = keystore.generate_key(key_id, algorithm, subject=name)
    info = csr.CertificationRequestInfo({
        "version": "v1",
        "subject": name,
        "subject_pk_info": public_key,
        "attributes": [],
    })
    is_ec = public_key.algorithm == "ec"
    signature = keystore.sign_raw(key_id, info.dump(), "sha256")
    request = csr.CertificationRequest({
        "certification_request_info": info,
        "signature_algorithm": {
            "algorithm": "sha256_ecdsa" if is_ec else "sha256_rsa",
            **({} if is_ec else {"parameters": core.Null()}),
        },
        "signature": signature,
    })
    log.info("enrolled key %s (%s)", key_id, algorithm)
    return EnrolmentRequest(key_id=key_id, csr_pem=pem.armor("CERTIFICATE REQUEST",
                                                             request.dump()),
                            algorithm=algorithm)


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Certificates from PEM (one or several) or DER bytes."""
    try:
        if pem.detect(data):
            return [x509.Certificate.load(der) for kind, _, der in pem.unarmor(data, multiple=True)
                    if kind == "CERTIFICATE"]
        cert = x509.Certificate.load(data)
        cert.native  # noqa: B018 — force a full parse
        return [cert]
    except (ValueError, TypeError) as e:
        raise InvalidInput("keys.bad_certificate", "Tệp chứng thư số không đọc được.",
                           "The certificate file cannot be read.") from e


def install_certificate(
    keystore: KeyStore,
    key_id: str,
    cert_pem: bytes | x509.Certificate,
    chain: bytes | Sequence[x509.Certificate] = (),
) -> KeyInfo:
    """Store the certificate issued for ``key_id`` (and its CA chain) in the key store."""
    certs = [cert_pem] if isinstance(cert_pem, x509.Certificate) else load_certificates(cert_pem)
    if len(certs) < 1:
        raise InvalidInput("keys.bad_certificate", "Không có chứng thư số trong tệp.",
                           "No certificate in the file.")
    cert, extra = certs[0], certs[1:]
    ca_chain = list(load_certificates(chain) if isinstance(chain, bytes) else chain) + extra
    check_algorithm(algorithm_of(cert.public_key))
    if cert.public_key.dump() != keystore.public_key(key_id).dump():
        raise KeyCustodyError(
            "keys.certificate_mismatch",
            f"Chứng thư số không khớp với khoá '{key_id}'.",
            f"The certificate does not match key '{key_id}'.",
            details={"key_id": key_id, "serial": f"{cert.serial_number:x}"},
        )
    keystore.store_certificate(key_id, cert, ca_chain)
    log.info("installed certificate serial=%x for key %s", cert.serial_number, key_id)
    return keystore.key_info(key_id)
