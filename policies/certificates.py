"""Reading certificates however a CA publishes them: PEM, DER, PKCS#7 (.p7b/.p7c).

Only parsing and fingerprints; what is trusted is decided by the trust policy,
by SHA-256 fingerprint of the DER certificate.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from asn1crypto import cms, pem, x509

from core.errors import InvalidInput


@dataclass(frozen=True)
class ParsedCertificate:
    der: bytes
    sha256: str
    """Lower-case hex SHA-256 of the DER certificate (``openssl x509 -fingerprint -sha256``)."""
    subject: str

    @property
    def certificate(self) -> x509.Certificate:
        return x509.Certificate.load(self.der)

    def to_pem(self) -> bytes:
        armored: bytes = pem.armor("CERTIFICATE", self.der)
        return armored


def fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def _from_der(der: bytes) -> list[bytes]:
    """DER bytes of a certificate or a PKCS#7 bundle -> DER certificates."""
    try:
        info = cms.ContentInfo.load(der, strict=True)
        if info["content_type"].native == "signed_data":
            certs = info["content"]["certificates"]
            return [c.chosen.dump() for c in certs] if certs.native is not None else []
    except (ValueError, TypeError, KeyError):
        pass
    cert = x509.Certificate.load(der, strict=True)
    cert.native  # noqa: B018 - forces a full parse, raising on garbage
    return [cert.dump()]


def parse_certificates(data: bytes, origin: str = "") -> list[ParsedCertificate]:
    """Every certificate in ``data``; raises :class:`InvalidInput` when nothing parses."""
    ders: list[bytes] = []
    try:
        if pem.detect(data):
            for _type, _headers, der in pem.unarmor(data, multiple=True):
                ders.extend(_from_der(der))
        else:
            ders.extend(_from_der(data))
    except (ValueError, TypeError, KeyError) as e:
        raise InvalidInput(
            "trust.unreadable_certificate",
            f"Không đọc được chứng thư số từ {origin or 'dữ liệu'}: {e}",
            f"Cannot read a certificate from {origin or 'the data'}: {e}",
        ) from e
    out = []
    for der in ders:
        cert = x509.Certificate.load(der)
        out.append(ParsedCertificate(der=der, sha256=fingerprint(der),
                                     subject=cert.subject.human_friendly))
    return out
