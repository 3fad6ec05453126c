"""Key custody: the one interface every key store implements.

A :class:`KeyStore` holds clinicians' and the hospital seal's private keys and
hands out pyHanko :class:`~pyhanko.sign.signers.Signer` objects for them. No
implementation ever returns private key material: callers only get signers,
public keys and certificates.

Implementations: :class:`hsm.pkcs11.Pkcs11Keystore` (an HSM, production) and
:class:`hsm.software.DevSoftwareKeystore` (PEM files, development only).

Algorithms follow TT 15/2025/TT-BKHCN: RSA of at least 2048 bits or ECDSA on
P-256 or stronger; anything weaker is refused by :func:`check_algorithm`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal, Protocol, runtime_checkable

from asn1crypto import keys, x509
from pyhanko.sign.signers import Signer

from core.errors import ConfigurationError, KeyCustodyError, NotFound

__all__ = [
    "ALGORITHMS",
    "CertificateRecord",
    "KeyInfo",
    "KeyStatus",
    "KeyStore",
    "algorithm_of",
    "check_algorithm",
    "describe_key",
    "mark_revoked",
    "refuse_in_production",
]

KeyStatus = Literal["active", "pending", "expired", "not_yet_valid", "revoked", "rotated"]

ALGORITHMS: dict[str, tuple[str, int | str]] = {
    "rsa2048": ("rsa", 2048),
    "rsa3072": ("rsa", 3072),
    "rsa4096": ("rsa", 4096),
    "ecdsa-p256": ("ec", "secp256r1"),
    "ecdsa-p384": ("ec", "secp384r1"),
    "ecdsa-p521": ("ec", "secp521r1"),
}
"""Accepted key algorithms (TT 15/2025/TT-BKHCN: RSA >= 2048, ECDSA >= P-256)."""

_CURVE_NAMES = {"secp256r1": "p256", "secp384r1": "p384", "secp521r1": "p521"}


def check_algorithm(algorithm: str) -> tuple[str, int | str]:
    """Return ``(kind, size_or_curve)`` for an accepted algorithm name; refuse the rest."""
    spec = ALGORITHMS.get(algorithm.lower())
    if spec is None:
        raise KeyCustodyError(
            "keys.weak_algorithm",
            f"Thuật toán khoá '{algorithm}' không được chấp nhận: theo Thông tư "
            "15/2025/TT-BKHCN khoá phải là RSA từ 2048 bit hoặc ECDSA từ P-256 "
            f"({', '.join(ALGORITHMS)}).",
            f"Key algorithm '{algorithm}' is not accepted: TT 15/2025/TT-BKHCN requires "
            f"RSA of at least 2048 bits or ECDSA P-256 or stronger ({', '.join(ALGORITHMS)}).",
            details={"algorithm": algorithm, "accepted": list(ALGORITHMS)},
        )
    return spec


def algorithm_of(public_key: keys.PublicKeyInfo) -> str:
    """Name a public key as in :data:`ALGORITHMS` (``rsa2048``, ``ecdsa-p256``...).

    Keys outside the accepted list get a descriptive name (``rsa1024``) that
    :func:`check_algorithm` refuses.
    """
    algo = public_key.algorithm
    if algo == "rsa":
        return f"rsa{public_key.bit_size}"
    if algo == "ec":
        curve = public_key.curve[1]
        return f"ecdsa-{_CURVE_NAMES.get(str(curve), str(curve))}"
    return str(algo)


@dataclass(frozen=True)
class CertificateRecord:
    """One certificate a key has had (current or replaced), safe to show."""

    serial: int
    """Certificate serial number."""
    subject: str
    """Subject, human readable (RFC 4514 order as asn1crypto prints it)."""
    issuer: str
    """Issuer, human readable."""
    not_before: datetime
    not_after: datetime
    sha256: str
    """SHA-256 of the certificate's DER, hex."""

    @classmethod
    def of(cls, cert: x509.Certificate) -> CertificateRecord:
        return cls(
            serial=cert.serial_number,
            subject=cert.subject.human_friendly,
            issuer=cert.issuer.human_friendly,
            not_before=cert.not_valid_before,
            not_after=cert.not_valid_after,
            sha256=cert.sha256.hex(),
        )


@dataclass(frozen=True)
class KeyInfo:
    """What a key store can say about one key, without the key itself."""

    key_id: str
    """Stable id of the key in its store (the PKCS#11 label; the file stem)."""
    subject: str
    """Certificate subject (or the requested subject while the certificate is pending)."""
    practitioner_id: str | None
    """The practitioner (or ``None`` for the hospital seal) the key belongs to."""
    algorithm: str
    """``rsa2048``, ``rsa3072``, ``ecdsa-p256``, ``ecdsa-p384``..."""
    not_after: datetime | None
    """Expiry of the current certificate; ``None`` while pending."""
    status: KeyStatus
    """``active``; ``pending`` (no certificate yet); ``expired``; ``not_yet_valid``;
    ``rotated`` (a newer key of the same practitioner is active); ``revoked``."""
    label: str = ""
    """Label on the token / in the store (same as ``key_id`` for hsba's own keys)."""
    issuer: str = ""
    serial: int | None = None
    not_before: datetime | None = None
    history: tuple[CertificateRecord, ...] = field(default_factory=tuple)
    """Certificates this key had before the current one, oldest first (kept for
    verification of old signatures)."""

    def to_dict(self) -> dict[str, object]:
        def _t(d: datetime | None) -> str | None:
            return d.isoformat() if d else None

        return {
            "key_id": self.key_id,
            "label": self.label,
            "practitioner_id": self.practitioner_id,
            "algorithm": self.algorithm,
            "subject": self.subject,
            "issuer": self.issuer,
            "serial": f"{self.serial:x}" if self.serial is not None else None,
            "not_before": _t(self.not_before),
            "not_after": _t(self.not_after),
            "status": self.status,
            "history": [
                {"serial": f"{h.serial:x}", "subject": h.subject, "issuer": h.issuer,
                 "not_before": _t(h.not_before), "not_after": _t(h.not_after),
                 "sha256": h.sha256}
                for h in self.history
            ],
        }


@runtime_checkable
class KeyStore(Protocol):
    """Where private keys live. Keys never leave it; it signs and describes."""

    def list_keys(self) -> list[KeyInfo]:
        """Every key in the store, with its current certificate and status."""
        ...

    def key_info(self, key_id: str) -> KeyInfo:
        """One key; :class:`core.errors.NotFound` if it does not exist."""
        ...

    def certificate(self, key_id: str) -> x509.Certificate:
        """The key's current certificate; ``KeyCustodyError`` while pending."""
        ...

    def chain(self, key_id: str) -> tuple[x509.Certificate, ...]:
        """The issuing CA certificates known for the key's certificate (may be empty)."""
        ...

    def signer_for(self, key_id: str, *, pss: bool = False) -> Signer:
        """A pyHanko ``Signer`` (``signing_cert`` and ``cert_registry`` with the chain)
        ready for ``PdfSigner``; cached per key. ``pss`` selects RSASSA-PSS for RSA keys."""
        ...

    def public_key(self, key_id: str) -> keys.PublicKeyInfo:
        """The key's public key (available before a certificate is installed)."""
        ...

    # --- enrolment (used by hsm.enrolment) -----------------------------------
    def generate_key(self, key_id: str, algorithm: str, *,
                     subject: x509.Name | None = None) -> keys.PublicKeyInfo:
        """Create a key pair inside the store (non-extractable on an HSM); ``subject``
        (the requested certificate subject) is recorded with the key."""
        ...

    def sign_raw(self, key_id: str, data: bytes, digest_algorithm: str = "sha256") -> bytes:
        """Sign ``data`` with the key (PKCS#1 v1.5 for RSA, DER ECDSA) — for CSRs."""
        ...

    def store_certificate(
        self, key_id: str, cert: x509.Certificate, chain: Sequence[x509.Certificate] = ()
    ) -> None:
        """Install the key's certificate; the previous one goes to the history."""
        ...


def refuse_in_production(what_vi: str, what_en: str) -> None:
    """Raise ``ConfigurationError`` when ``HSBA_ENV=production``."""
    env = os.environ.get("HSBA_ENV", "")
    if env.strip().lower() == "production":
        raise ConfigurationError(
            "config.development_adapter_in_production",
            f"{what_vi} chỉ dùng cho phát triển, bị từ chối khi HSBA_ENV=production.",
            f"{what_en} is for development only and is refused when HSBA_ENV=production.",
            details=[what_en],
        )


def _practitioner_from_cert(cert: x509.Certificate | None) -> str | None:
    if cert is None:
        return None
    native = cert.subject.native
    value = native.get("serial_number")
    return str(value) if value else None


def describe_key(
    key_id: str,
    *,
    public_key: keys.PublicKeyInfo | None,
    cert: x509.Certificate | None,
    history: Sequence[x509.Certificate] = (),
    practitioner_id: str | None = None,
    requested_subject: str = "",
    superseded: bool = False,
    revoked: bool = False,
    now: datetime | None = None,
) -> KeyInfo:
    """Build a :class:`KeyInfo` from what a store knows about one key."""
    now = now or datetime.now(UTC)
    status: KeyStatus
    if revoked:
        status = "revoked"
    elif cert is None:
        status = "pending"
    elif superseded:
        status = "rotated"
    elif cert.not_valid_after < now:
        status = "expired"
    elif cert.not_valid_before > now:
        status = "not_yet_valid"
    else:
        status = "active"
    return KeyInfo(
        key_id=key_id,
        label=key_id,
        subject=cert.subject.human_friendly if cert is not None else requested_subject,
        practitioner_id=practitioner_id or _practitioner_from_cert(cert),
        algorithm=algorithm_of(public_key) if public_key is not None else "unknown",
        not_after=cert.not_valid_after if cert is not None else None,
        not_before=cert.not_valid_before if cert is not None else None,
        issuer=cert.issuer.human_friendly if cert is not None else "",
        serial=cert.serial_number if cert is not None else None,
        status=status,
        history=tuple(CertificateRecord.of(c) for c in history),
    )


def _generation(key_id: str) -> int:
    """``bs-an`` → 1, ``bs-an~3`` → 3 (the enrolment naming of re-keys)."""
    tail = key_id.rpartition("~")[2]
    return int(tail) if "~" in key_id and tail.isdigit() else 1


def supersession(infos: Sequence[tuple[str, str | None, datetime | None]]) -> set[str]:
    """Key ids replaced by a newer certified key of the same practitioner.

    ``infos`` holds ``(key_id, practitioner_id, not_before_of_current_cert)``;
    the newest key has the latest certificate (ties: the later re-key).
    """
    newest: dict[str, tuple[datetime, int, str]] = {}
    for key_id, pid, nb in infos:
        if pid is None or nb is None:
            continue
        rank = (nb, _generation(key_id), key_id)
        if pid not in newest or rank > newest[pid]:
            newest[pid] = rank
    return {
        key_id
        for key_id, pid, nb in infos
        if pid is not None and nb is not None and newest[pid][2] != key_id
    }


def not_found(key_id: str) -> NotFound:
    return NotFound(
        "keys.not_found",
        f"Không tìm thấy khoá '{key_id}'.",
        f"Key '{key_id}' not found.",
        details={"key_id": key_id},
    )


def certificate_pending(key_id: str) -> KeyCustodyError:
    return KeyCustodyError(
        "keys.certificate_pending",
        f"Khoá '{key_id}' chưa được cài chứng thư số (hsba keys install-cert).",
        f"Key '{key_id}' has no certificate installed yet (hsba keys install-cert).",
        details={"key_id": key_id},
    )


def chain_for(cert: x509.Certificate, pool: Sequence[x509.Certificate]) -> tuple[x509.Certificate, ...]:
    """Issuers of ``cert`` found in ``pool``, walking up to a self-signed root."""
    by_subject = {c.subject.dump(): c for c in pool}
    out: list[x509.Certificate] = []
    current = cert
    for _ in range(8):
        if current.self_signed != "no":
            break
        issuer = by_subject.get(current.issuer.dump())
        if issuer is None or issuer in out or issuer.dump() == current.dump():
            break
        out.append(issuer)
        current = issuer
    return tuple(out)


_KEY_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~-")


def validate_key_id(key_id: str) -> str:
    """Key ids become file names and token labels: letters, digits, ``._~-``, 1-64 chars."""
    if not key_id or len(key_id) > 64 or not set(key_id) <= _KEY_ID_CHARS or key_id[0] == ".":
        raise KeyCustodyError(
            "keys.bad_key_id",
            f"Mã khoá không hợp lệ: '{key_id}' (chỉ chữ, số, '.', '_', '~', '-'; tối đa 64 ký tự).",
            f"Invalid key id: '{key_id}' (letters, digits, '.', '_', '~', '-'; at most 64 chars).",
            details={"key_id": key_id},
        )
    return key_id


def mark_revoked(infos: Sequence[KeyInfo], revoked_serials: Iterable[int]) -> list[KeyInfo]:
    """``infos`` with ``status="revoked"`` where the current certificate's serial is revoked
    (the store itself does not know; the CA's CRL or the dev PKI does)."""
    revoked = set(revoked_serials)
    return [replace(i, status="revoked") if i.serial in revoked else i for i in infos]
