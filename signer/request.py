"""What one signature should be: the whole signing request in one frozen value."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

Level = Literal["B-B", "B-T", "B-LT", "B-LTA"]
"""PAdES baseline level (ETSI EN 319 142-1)."""

LEVELS: tuple[Level, ...] = ("B-B", "B-T", "B-LT", "B-LTA")

Method = Literal["hsm", "remote", "software", "seal"]
"""How the signer's key was used, shown in the appearance."""

METHOD_LABELS: dict[str, tuple[str, str]] = {
    "hsm": ("Ký số (HSM)", "Digital signature (HSM)"),
    "remote": ("Ký số từ xa", "Remote digital signature"),
    "software": ("Ký số (khoá phần mềm)", "Digital signature (software key)"),
    "seal": ("Con dấu số của cơ sở", "Organisation seal"),
}


@dataclass(frozen=True)
class SignRequest:
    """One signature to add to a PDF form."""

    field_name: str
    """Name of the signature field laid out by the form (``doctor``, ``patient``...)."""

    signer_name: str
    """Name shown on the signature and in the appearance (the certificate's holder)."""

    role: str = ""
    """Title / role in the care of the patient, e.g. ``Bác sĩ điều trị``."""

    reason: str = ""
    """Why the document is signed (PDF ``/Reason``), e.g. ``Xác nhận nội dung``."""

    location: str = ""
    """Where it is signed (PDF ``/Location``): the facility or department."""

    level: Level = "B-LTA"
    """PAdES baseline level to reach."""

    certify: bool = False
    """Certification signature (DocMDP FILL_FORMS: form filling and further signatures
    allowed). Only valid as the first signature of a document."""

    appearance_lines: tuple[str, ...] = ()
    """Extra text lines for the visible appearance (after name, role, time, method)."""

    handwritten_png: bytes | None = None
    """A handwritten signature image (PNG) drawn in the appearance (patients)."""

    use_pss: bool = False
    """Use RSASSA-PSS with an RSA key (else PKCS#1 v1.5). Ignored for ECDSA keys."""

    policy_version: str = ""
    """Version of the signing policy applied; recorded in the signature's contact info."""

    contact_info: str = ""
    """PDF ``/ContactInfo`` (e.g. the department's phone)."""

    method: Method = "hsm"
    """How the key was used; shown in the appearance."""

    visible: bool = True
    """Draw the appearance in the field's box (the field decides where); ``False``
    keeps the field's existing appearance (nothing drawn, nothing embedded)."""

    create_field_box: tuple[int, int, int, int, int] | None = None
    """``(page, x1, y1, x2, y2)``: create the field there if the form lacks it.
    Without it a missing field is an error (fields are laid out by the form)."""

    md_algorithm: str = "sha256"
    """Digest algorithm: ``sha256``, ``sha384`` or ``sha512``."""

    def with_level(self, level: Level) -> SignRequest:
        return replace(self, level=level)

    @property
    def needs_timestamp(self) -> bool:
        return self.level != "B-B"

    @property
    def needs_revinfo(self) -> bool:
        return self.level in ("B-LT", "B-LTA")


@dataclass(frozen=True)
class SignResult:
    """Outcome of one document in a batch."""

    index: int
    """Position of the document in the batch."""

    pdf: bytes | None = None
    """Signed PDF, or ``None`` when this document failed."""

    error: dict[str, object] | None = None
    """The error (``HsbaError.to_dict()``) when this document failed."""

    sha256_before: str = ""
    sha256_after: str = ""
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.pdf is not None
