"""Values that a verification returns: one report per file, one per signature.

These cross package boundaries (workflow, api, the CLI), so they are frozen
dataclasses made only of JSON-able values; ``to_dict()`` gives the JSON form.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

Verdict = Literal[
    "VALID",
    "VALID_WITH_ALLOWED_CHANGES",
    "MODIFIED_AFTER_SIGNING",
    "INVALID",
    "INDETERMINATE",
    "NO_SIGNATURE",
    "PARSE_ERROR",
]
"""The overall answer for one file."""

PASSING_VERDICTS: frozenset[str] = frozenset({"VALID", "VALID_WITH_ALLOWED_CHANGES"})

Indication = Literal["TOTAL_PASSED", "TOTAL_FAILED", "INDETERMINATE"]
"""ETSI EN 319 102-1 main indication."""

Coverage = Literal["ENTIRE_FILE", "ENTIRE_REVISION", "PARTIAL", "UNKNOWN"]
Changes = Literal[
    "NONE", "LTA_UPDATES", "FORM_FILLING", "ANNOTATIONS", "OTHER", "UNKNOWN"
]
"""What changed after a signature: nothing; later signatures and validation
data (DSS, document timestamps); form filling; annotations; anything else."""


@dataclass(frozen=True)
class Finding:
    """One problem or remark, in both languages, with a stable code."""

    code: str
    """Machine code, e.g. ``byterange.not_at_start`` or ``render.signed_content_changed``."""
    severity: Literal["fatal", "modified", "warning", "info"]
    """``fatal`` makes the signature INVALID, ``modified`` MODIFIED_AFTER_SIGNING."""
    message_vi: str
    message_en: str

    def message(self, lang: str) -> str:
        return self.message_en if lang == "en" else self.message_vi


@dataclass(frozen=True)
class CertificateInfo:
    subject: str
    issuer: str
    serial: str
    """Hexadecimal serial number."""
    not_before: str
    not_after: str
    sha256: str


@dataclass(frozen=True)
class SignatureReport:
    """What an auditor needs to know about one signature (or document timestamp)."""

    field_name: str
    kind: Literal["signature", "document_timestamp"]
    signer: str
    """Common name of the signing certificate."""
    certificate: CertificateInfo | None
    role: str | None
    """From the signature's /Reason or /Location (``Role: ...``) or the certificate title."""
    reason: str | None
    location: str | None
    signing_time: str | None
    """Best proven time (ISO 8601, UTC) if a timestamp proves it, else the claimed time."""
    claimed_time: str | None
    """Time the signer's software wrote in the signature (not proven)."""
    proven_time: str | None
    """Time proven by a valid signature timestamp (or the document timestamp itself)."""
    time_source: Literal["timestamp", "claimed", "none"]
    integrity: bool
    """Digest of the covered bytes matches and the cryptographic signature is correct."""
    digest_ok: bool
    signature_ok: bool
    coverage: Coverage
    changes: Changes
    docmdp: int | None
    """DocMDP permission of a certification signature (1, 2 or 3), else None."""
    docmdp_ok: bool | None
    fieldmdp_ok: bool | None
    trusted: bool
    certificate_path: tuple[str, ...]
    """Subjects from the signer up to the trust anchor (empty if no path)."""
    revocation: Literal["GOOD", "REVOKED", "UNKNOWN", "NOT_CHECKED"]
    timestamp_valid: bool | None
    """Validity of the signature timestamp (None if there is none)."""
    level: str | None
    """PAdES baseline level reached: B-B, B-T, B-LT, B-LTA (None if not even B-B)."""
    indication: Indication
    subindication: str | None
    explanation_vi: str
    explanation_en: str
    findings: tuple[Finding, ...] = ()
    signed_revision: int | None = None
    """0-based revision of the file that this signature signs."""

    def __post_init__(self) -> None:
        # pyHanko's PDF strings subclass str and hold the whole reader: keep
        # plain values so reports pickle and serialise cheaply.
        for name in ("field_name", "signer", "role", "reason", "location"):
            v = getattr(self, name)
            if v is not None and type(v) is not str:
                object.__setattr__(self, name, str(v))

    @property
    def passed(self) -> bool:
        return self.indication == "TOTAL_PASSED"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class PdfaStatus:
    verdict: Literal["PASS", "FAIL", "NOT_CHECKED"]
    part: str | None = None
    conformance: str | None = None
    failures: tuple[str, ...] = ()


@dataclass(frozen=True)
class VerificationReport:
    """The answer for one file."""

    verdict: Verdict
    message_vi: str
    message_en: str
    sha256: str
    size: int
    revisions: int
    signatures: tuple[SignatureReport, ...] = ()
    document_timestamps: tuple[SignatureReport, ...] = ()
    findings: tuple[Finding, ...] = ()
    """File-level findings (structure, rendering, parse errors)."""
    pdfa: PdfaStatus = field(default_factory=lambda: PdfaStatus("NOT_CHECKED"))
    validation_time: str | None = None
    offline: bool = False
    lang: str = "vi"
    etsi_xml: str | None = None
    """ETSI TS 119 102-2 validation report, if it was asked for."""
    filename: str | None = None

    @property
    def ok(self) -> bool:
        return self.verdict in PASSING_VERDICTS

    def message(self, lang: str | None = None) -> str:
        return self.message_en if (lang or self.lang) == "en" else self.message_vi

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["message"] = self.message()
        out.pop("etsi_xml", None)
        return out

    @staticmethod
    def from_dict(data: dict[str, Any]) -> VerificationReport:
        """Rebuild a report from ``to_dict()`` output (used across processes)."""
        def finding(d: dict[str, Any]) -> Finding:
            return Finding(**d)

        def sig(d: dict[str, Any]) -> SignatureReport:
            d = dict(d)
            cert = d.get("certificate")
            d["certificate"] = CertificateInfo(**cert) if cert else None
            d["certificate_path"] = tuple(d.get("certificate_path") or ())
            d["findings"] = tuple(finding(f) for f in d.get("findings") or ())
            return SignatureReport(**d)

        d = dict(data)
        d.pop("message", None)
        d["signatures"] = tuple(sig(s) for s in d.get("signatures") or ())
        d["document_timestamps"] = tuple(sig(s) for s in d.get("document_timestamps") or ())
        d["findings"] = tuple(finding(f) for f in d.get("findings") or ())
        p = d.get("pdfa") or {"verdict": "NOT_CHECKED"}
        d["pdfa"] = PdfaStatus(**{**p, "failures": tuple(p.get("failures") or ())})
        return VerificationReport(**d)
