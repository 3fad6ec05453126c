"""Trust anchors: certificates the auditor trusts (national root CA, the
hospital's CA, other hospitals' CAs), from files or objects."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import TypeAlias

from asn1crypto import pem, x509

from core.errors import InvalidInput

TrustInput: TypeAlias = x509.Certificate | bytes | str | Path


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate in PEM (one or many) or DER ``data``."""
    if pem.detect(data):
        return [x509.Certificate.load(der) for _, _, der in pem.unarmor(data, multiple=True)]
    return [x509.Certificate.load(data)]


def load_trust_roots(items: Iterable[TrustInput]) -> list[x509.Certificate]:
    """Certificates from objects, DER/PEM bytes or file paths."""
    out: list[x509.Certificate] = []
    for item in items:
        if isinstance(item, x509.Certificate):
            out.append(item)
            continue
        if isinstance(item, (str, Path)):
            path = Path(item)
            try:
                data = path.read_bytes()
            except OSError as e:
                raise InvalidInput(
                    "verify.trust_unreadable",
                    f"Không đọc được tệp chứng thư tin cậy {path.name}.",
                    f"Cannot read trust anchor file {path.name}.",
                ) from e
        else:
            data = bytes(item)
        try:
            out.extend(load_certificates(data))
        except Exception as e:  # asn1crypto raises ValueError/TypeError variants
            raise InvalidInput(
                "verify.trust_invalid",
                "Tệp chứng thư tin cậy không phải chứng thư X.509 (PEM hoặc DER).",
                "A trust anchor is not an X.509 certificate (PEM or DER).",
            ) from e
    return out


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.dump()).hexdigest()
