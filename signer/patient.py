"""A patient's confirmation of a form, sealed by the hospital (TT 13/2025/TT-BYT Đ3).

The patient (or their representative) confirms at a kiosk or bedside tablet by
a handwritten pad, a fingerprint, an OTP or their own signature. hsba never
sees raw biometric data: the capture device hands over the sha256 of its
evidence. The confirmation is bound to the document's hash and sealed with the
hospital's organisation seal key into the ``patient`` field: the signature's
name is the patient's, its reason "Người bệnh xác nhận", and its signed
``/ContactInfo`` carries the binding (method, evidence hash, device, time,
document hash). The :class:`EvidenceRecord` returned is kept with the document.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pyhanko.sign.signers import Signer
from pyhanko.sign.timestamps import TimeStamper

from core.errors import InvalidInput
from signer.algorithms import describe_key
from signer.request import Level, SignRequest
from signer.revocation import RevocationSource
from signer.sign import async_sign_pdf

__all__ = [
    "CONFIRMATION_REASON",
    "EvidenceRecord",
    "PatientConfirmation",
    "Representative",
    "async_seal_patient_confirmation",
    "parse_binding",
    "seal_patient_confirmation",
]

ConfirmationMethod = Literal["own_signature", "handwritten_pad", "fingerprint", "otp"]
CONFIRMATION_REASON = "Người bệnh xác nhận"
_METHOD_VI = {
    "own_signature": "Chữ ký số của người bệnh",
    "handwritten_pad": "Ký tay trên bảng ký điện tử",
    "fingerprint": "Xác thực vân tay",
    "otp": "Mã OTP",
}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Representative:
    """Who confirms for the patient (a minor, an unconscious patient...)."""

    name: str
    """Full name of the representative."""
    relationship: str
    """Relationship to the patient, e.g. ``Mẹ``, ``Con``, ``Người giám hộ``."""


@dataclass(frozen=True)
class PatientConfirmation:
    """What the capture device reports; never the raw biometric data."""

    patient_name: str
    """Shown as the signature's name and in the appearance."""
    method: ConfirmationMethod
    """How the patient confirmed."""
    evidence_sha256: str
    """sha256 (hex) of the evidence kept by the device / provider (pad strokes,
    fingerprint match record, OTP transaction, the patient's own signature)."""
    device_id: str
    """The kiosk / tablet / provider that captured it."""
    captured_at: datetime
    """When it was captured (timezone-aware)."""
    representative: Representative | None = None
    """Set when a representative confirms for the patient."""
    handwritten_png: bytes | None = None
    """The visible handwritten signature (not biometric data) for the appearance."""

    def check(self) -> None:
        if self.method not in _METHOD_VI:
            raise InvalidInput("patient.bad_method", f"Phương thức xác nhận không hợp lệ: "
                               f"{self.method}", f"Unknown confirmation method: {self.method}")
        if not _SHA256.match(self.evidence_sha256):
            raise InvalidInput("patient.bad_evidence_hash",
                               "Mã băm bằng chứng phải là SHA-256 (64 ký tự hex).",
                               "The evidence hash must be a SHA-256 (64 hex characters).")
        if self.captured_at.tzinfo is None:
            raise InvalidInput("patient.naive_time", "Thời điểm ghi nhận thiếu múi giờ.",
                               "The capture time has no time zone.")
        if not self.device_id or ";" in self.device_id or "=" in self.device_id:
            raise InvalidInput("patient.bad_device", "Mã thiết bị không hợp lệ.",
                               "Invalid device id.")


@dataclass(frozen=True)
class EvidenceRecord:
    """Kept with the document: what was confirmed, how, and bound to which bytes."""

    document_id: str
    field_name: str
    method: str
    evidence_sha256: str
    device_id: str
    captured_at: str
    """UTC, ISO 8601."""
    document_sha256: str
    """sha256 of the document as it was shown to the patient (before sealing)."""
    sealed_sha256: str
    """sha256 of the sealed document returned."""
    sealed_at: str
    seal_certificate_serial: str
    seal_key: str
    representative: dict[str, str] | None
    binding: str
    """The exact string signed in the signature's /ContactInfo."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def binding_string(confirmation: PatientConfirmation, document_sha256: str,
                   policy_version: str = "") -> str:
    """``hsba-patient-confirmation/1;method=…;evidence-sha256=…;…``."""
    parts = [
        "hsba-patient-confirmation/1",
        f"method={confirmation.method}",
        f"evidence-sha256={confirmation.evidence_sha256}",
        f"device={confirmation.device_id}",
        f"captured-at={confirmation.captured_at.astimezone(UTC).isoformat()}",
        f"document-sha256={document_sha256}",
    ]
    if confirmation.representative is not None:
        parts.append("representative=1")
    if policy_version:
        parts.append(f"policy={policy_version.replace(';', ',')}")
    return ";".join(parts)


def parse_binding(contact_info: str) -> dict[str, str] | None:
    """Read back a binding string (for verification); ``None`` if it is not one."""
    if not contact_info.startswith("hsba-patient-confirmation/1;"):
        return None
    return dict(p.split("=", 1) for p in contact_info.split(";")[1:] if "=" in p)


async def async_seal_patient_confirmation(
    pdf: bytes,
    confirmation: PatientConfirmation,
    *,
    seal_signer: Signer,
    document_id: str = "",
    field_name: str = "patient",
    level: Level = "B-LTA",
    location: str = "",
    timestampers: Sequence[TimeStamper] = (),
    revocation: RevocationSource | None = None,
    use_pss: bool = False,
    policy_version: str = "",
) -> tuple[bytes, EvidenceRecord]:
    """Seal the confirmation into ``field_name``; returns the document and its evidence.

    ``use_pss``: RSASSA-PSS with an RSA seal key; ``policy_version``: the signing
    policy applied, signed as the binding's last ``policy=`` part."""
    confirmation.check()
    document_sha256 = hashlib.sha256(pdf).hexdigest()
    binding = binding_string(confirmation, document_sha256, policy_version)
    lines = [f"Phương thức: {_METHOD_VI[confirmation.method]}"]
    if confirmation.representative is not None:
        rep = confirmation.representative
        lines.append(f"Người đại diện: {rep.name} ({rep.relationship})")
    request = SignRequest(
        field_name=field_name,
        signer_name=confirmation.patient_name,
        role="Người bệnh",
        reason=CONFIRMATION_REASON,
        location=location,
        level=level,
        appearance_lines=tuple(lines),
        handwritten_png=confirmation.handwritten_png,
        contact_info=binding,
        method="seal",
        use_pss=use_pss,
    )
    sealed = await async_sign_pdf(pdf, request, signer=seal_signer,
                                  timestampers=timestampers, revocation=revocation)
    cert = seal_signer.signing_cert
    assert cert is not None
    record = EvidenceRecord(
        document_id=document_id,
        field_name=field_name,
        method=confirmation.method,
        evidence_sha256=confirmation.evidence_sha256,
        device_id=confirmation.device_id,
        captured_at=confirmation.captured_at.astimezone(UTC).isoformat(),
        document_sha256=document_sha256,
        sealed_sha256=hashlib.sha256(sealed).hexdigest(),
        sealed_at=datetime.now(UTC).isoformat(),
        seal_certificate_serial=f"{cert.serial_number:x}",
        seal_key=describe_key(cert),
        representative=(asdict(confirmation.representative)
                        if confirmation.representative else None),
        binding=binding,
    )
    return sealed, record


def seal_patient_confirmation(
    pdf: bytes, confirmation: PatientConfirmation, *, seal_signer: Signer, **kw: Any
) -> tuple[bytes, EvidenceRecord]:
    """Synchronous :func:`async_seal_patient_confirmation` (CLI and tests)."""
    import asyncio

    return asyncio.run(async_seal_patient_confirmation(pdf, confirmation,
                                                       seal_signer=seal_signer, **kw))
