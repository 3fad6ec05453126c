"""Which keys and digests may sign a medical record (TT 15/2025/TT-BKHCN).

RSA ≥ 2048 bits (PKCS#1 v1.5 or RSASSA-PSS), ECDSA on P-256 / P-384 / P-521,
SHA-256 or stronger. Anything weaker is refused before a byte is written.
"""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import x509

from core.errors import SigningError

__all__ = ["AlgorithmPolicy", "check_key_and_digest", "describe_key"]

_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


@dataclass(frozen=True)
class AlgorithmPolicy:
    """Minimum strengths accepted for a signing key and digest."""

    min_rsa_bits: int = 2048
    """Smallest RSA modulus accepted."""

    ec_curves: frozenset[str] = frozenset({"secp256r1", "secp384r1", "secp521r1"})
    """Named curves accepted for ECDSA."""

    digests: frozenset[str] = frozenset({"sha256", "sha384", "sha512", "sha3_256",
                                         "sha3_384", "sha3_512"})
    """Digest algorithms accepted."""


def describe_key(cert: x509.Certificate) -> str:
    """``RSA-2048``, ``ECDSA-P-256``... for logs and reports."""
    pk = cert.public_key
    if pk.algorithm == "rsa":
        return f"RSA-{pk.bit_size}"
    if pk.algorithm == "ec":
        return f"ECDSA-{_CURVES.get(pk.curve[1], pk.curve[1])}"
    return str(pk.algorithm).upper()


def check_key_and_digest(
    cert: x509.Certificate | None, md_algorithm: str, policy: AlgorithmPolicy | None = None
) -> None:
    """Raise :class:`SigningError` if the key or digest is weaker than the policy."""
    policy = policy or AlgorithmPolicy()
    if cert is None:
        raise SigningError(
            "sign.no_certificate",
            "Khoá ký không có chứng thư số đi kèm; không thể ký.",
            "The signing key has no certificate; signing refused.",
        )
    if md_algorithm not in policy.digests:
        raise SigningError(
            "sign.weak_digest",
            f"Thuật toán băm {md_algorithm} không được phép (cần SHA-256 trở lên).",
            f"Digest algorithm {md_algorithm} is not allowed (SHA-256 or stronger required).",
            details={"digest": md_algorithm},
        )
    pk = cert.public_key
    key = describe_key(cert)
    if pk.algorithm == "rsa":
        if pk.bit_size < policy.min_rsa_bits:
            raise SigningError(
                "sign.weak_key",
                f"Khoá RSA {pk.bit_size} bit quá yếu (tối thiểu {policy.min_rsa_bits} bit).",
                f"RSA key of {pk.bit_size} bits is too weak "
                f"(at least {policy.min_rsa_bits} bits required).",
                details={"key": key},
            )
    elif pk.algorithm == "ec":
        if pk.curve[1] not in policy.ec_curves:
            raise SigningError(
                "sign.weak_key",
                f"Đường cong ECDSA {pk.curve[1]} không được phép (P-256/P-384).",
                f"ECDSA curve {pk.curve[1]} is not allowed (P-256/P-384 required).",
                details={"key": key},
            )
    else:
        raise SigningError(
            "sign.unsupported_key",
            f"Loại khoá {pk.algorithm} không được phép (chỉ RSA hoặc ECDSA).",
            f"Key type {pk.algorithm} is not allowed (RSA or ECDSA only).",
            details={"key": key},
        )
