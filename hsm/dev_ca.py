"""Certificate-authority mechanics of the development PKI (``hsm.dev_pki``).

Key and certificate files, CRL and OCSP response building with
``cryptography``. DEVELOPMENT ONLY; nothing here is used in production.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ObjectIdentifier, OCSPExtensionOID

from core.errors import InvalidInput

__all__ = ["CaMaterial", "build_crl", "build_ocsp_response", "load_ca", "new_ca"]

_REASONS = {
    "unspecified": x509.ReasonFlags.unspecified,
    "key_compromise": x509.ReasonFlags.key_compromise,
    "ca_compromise": x509.ReasonFlags.ca_compromise,
    "affiliation_changed": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessation_of_operation": x509.ReasonFlags.cessation_of_operation,
    "certificate_hold": x509.ReasonFlags.certificate_hold,
}


def revocation_reason(name: str) -> x509.ReasonFlags:
    try:
        return _REASONS[name]
    except KeyError as e:
        raise InvalidInput("pki.bad_reason", f"Lý do thu hồi không hợp lệ: {name}.",
                           f"Invalid revocation reason: {name}.",
                           details={"accepted": list(_REASONS)}) from e


@dataclass(frozen=True)
class CaMaterial:
    """A certificate and its parsed private key (loaded once)."""

    cert: x509.Certificate
    key: rsa.RSAPrivateKey


def load_ca(d: Path, name: str) -> CaMaterial:
    key = serialization.load_pem_private_key((d / f"{name}.key.pem").read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    cert = x509.load_pem_x509_certificate((d / f"{name}.crt.pem").read_bytes())
    return CaMaterial(cert, key)


def new_ca(d: Path, name: str, subject: x509.Name, issuer: CaMaterial | None,
           now: datetime, *, days: int, ca: bool, url: str, path_len: int | None = None,
           eku: list[ObjectIdentifier] | None = None) -> CaMaterial:
    """Generate an RSA-2048 key and its certificate, write both under ``d``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signing_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_len if ca else None),
                       critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=not ca, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            signing_key.public_key()), critical=False)
    )
    if issuer is not None:
        issuer_name = "root" if issuer.cert.issuer == issuer.cert.subject else "issuing"
        builder = builder.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
            [x509.UniformResourceIdentifier(f"{url}/crl/{issuer_name}.crl")],
            None, None, None)]), critical=False)
        access = [x509.AccessDescription(
            AuthorityInformationAccessOID.CA_ISSUERS,
            x509.UniformResourceIdentifier(f"{url}/certs/{issuer_name}.crt"))]
        is_responder = eku == [x509.oid.ExtendedKeyUsageOID.OCSP_SIGNING]
        if issuer_name == "issuing" and not is_responder:
            access.insert(0, x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP,
                x509.UniformResourceIdentifier(f"{url}/ocsp")))
        builder = builder.add_extension(x509.AuthorityInformationAccess(access), critical=False)
    if eku:
        # RFC 3161 requires the timeStamping EKU to be critical; harmless for OCSP signing.
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=True)
        if eku[0] == x509.oid.ExtendedKeyUsageOID.OCSP_SIGNING:
            builder = builder.add_extension(x509.OCSPNoCheck(), critical=False)
    cert = builder.sign(signing_key, hashes.SHA256())
    key_path = d / f"{name}.key.pem"
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM,
                                   serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    (d / f"{name}.crt.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return CaMaterial(cert, key)


def build_crl(ca: CaMaterial, revoked: dict[int, tuple[datetime, str]]) -> bytes:
    """A CRL of ``ca`` valid for 7 days from now, listing ``revoked``."""
    now = datetime.now(UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(now - timedelta(seconds=30))
        .next_update(now + timedelta(days=7))
        .add_extension(x509.CRLNumber(int(now.timestamp() * 1000)), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
                       critical=False)
    )
    for serial, (at, reason) in sorted(revoked.items()):
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(at)
            .add_extension(x509.CRLReason(revocation_reason(reason)), critical=False)
            .build()
        )
        builder = builder.add_revoked_certificate(entry)
    return builder.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def build_ocsp_response(
    request_der: bytes,
    *,
    issuing: CaMaterial,
    responder: CaMaterial,
    revoked: dict[int, tuple[datetime, str]],
    known: Callable[[int], x509.Certificate | None],
) -> bytes:
    """Answer an OCSP request about a certificate of ``issuing``, signed by ``responder``."""
    try:
        req = ocsp.load_der_ocsp_request(request_der)
    except ValueError:
        return ocsp.OCSPResponseBuilder.build_unsuccessful(
            ocsp.OCSPResponseStatus.MALFORMED_REQUEST).public_bytes(serialization.Encoding.DER)
    algo = req.hash_algorithm
    name_hash = hashes.Hash(algo)
    name_hash.update(issuing.cert.subject.public_bytes())
    key_hash = hashes.Hash(algo)
    key_hash.update(issuing.cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.PKCS1))
    if req.issuer_name_hash != name_hash.finalize() or req.issuer_key_hash != key_hash.finalize():
        return ocsp.OCSPResponseBuilder.build_unsuccessful(
            ocsp.OCSPResponseStatus.UNAUTHORIZED).public_bytes(serialization.Encoding.DER)
    now = datetime.now(UTC)
    serial = req.serial_number
    status, rev_time, rev_reason = ocsp.OCSPCertStatus.UNKNOWN, None, None
    if serial in revoked:
        status = ocsp.OCSPCertStatus.REVOKED
        rev_time, reason_name = revoked[serial]
        rev_reason = revocation_reason(reason_name)
    elif known(serial) is not None:
        status = ocsp.OCSPCertStatus.GOOD
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response_by_hash(
            issuer_name_hash=req.issuer_name_hash, issuer_key_hash=req.issuer_key_hash,
            serial_number=serial, algorithm=algo, cert_status=status,
            this_update=now - timedelta(seconds=30), next_update=now + timedelta(days=1),
            revocation_time=rev_time, revocation_reason=rev_reason)
        .responder_id(ocsp.OCSPResponderEncoding.HASH, responder.cert)
        .certificates([responder.cert])
    )
    try:
        nonce = req.extensions.get_extension_for_oid(OCSPExtensionOID.NONCE).value
        builder = builder.add_extension(nonce, critical=False)
    except x509.ExtensionNotFound:
        pass
    return builder.sign(responder.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
