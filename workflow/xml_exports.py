"""Signed XML exports sealed by the hospital and archived: the XML 130 social-insurance
claim and the ``HoSoBenhAn`` record of a patient.

build and validate against the XSD (``insurance.xml130`` / ``emr.export``) → sign with
the organisation seal held by key custody (``signer.xml``, enveloped XAdES-LT: time-stamped
by the service's TSAs, with the certificate paths and OCSP/CRL data from the service's
revocation source, into ``CHUKYDONVI`` or appended to the root) → verify offline from the
file alone → archive like a PDF (WORM object with retention, index row, audit event).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Any

from core.errors import SigningError
from insurance.model import ClaimEncounter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClaimExport:
    document_id: str
    xml: bytes
    object_key: str
    version: int
    verdict: str


def seal_signer(services: Any, key_id: str | None = None) -> Any:
    """A pyHanko ``Signer`` for the hospital's organisation seal (key stays in custody)."""
    from workflow.seeding import ensure_seal_key

    key = key_id or ensure_seal_key(services, services.settings.hospital_code)
    return services.keystore.signer_for(key)


def _document_id(prefix: str, ref: str) -> str:
    """An archive document id (64 characters at most, letters, digits, ``._-``)."""
    candidate = f"{prefix}-{ref}"
    if len(candidate) <= 64 and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", candidate):
        return candidate
    return f"{prefix}-{hashlib.sha256(ref.encode()).hexdigest()[:40]}"


def _trust_roots_der(services: Any) -> list[bytes]:
    return [c.dump() for c in services.trust_roots]


def _seal(services: Any, xml: bytes, *, seal_key_id: str | None, placement: str,
          level: str | None) -> bytes:
    """Seal ``xml``: XAdES-LT with the service's TSAs (the configured ones, else the
    development TSA) and its revocation source (``Services.revocation()``, as the PDFs'
    B-LT); XAdES-T or XAdES-BES only when asked for (``level``), XAdES-BES also when no
    TSA is configured at all (logged). No TSA answering, no revocation data for the
    seal's or the TSA's certificate, a revoked seal: refused, nothing sealed."""
    from signer.xml.sign import BES, LT, sign_enveloped

    timestampers = services.timestampers() if level != BES else []
    if not timestampers and level is None:
        log.warning("xml seal without a signature time-stamp: no TSA configured")
    revocation = services.revocation() if level in (None, LT) else None
    return sign_enveloped(xml, signer=seal_signer(services, seal_key_id), placement=placement,
                          timestampers=timestampers, level=level, revocation=revocation)


def export_claim(
    services: Any,
    encounter: ClaimEncounter,
    *,
    actor_id: str,
    tenant: str | None = None,
    seal_key_id: str | None = None,
    retention_class: str = "INPATIENT_10Y",
    level: str | None = None,
) -> ClaimExport:
    """Build, seal, verify and archive the claim of one encounter.

    Nothing is archived unless the sealed file verifies (``VALID``) against the
    service's trust anchors (offline: an XAdES-LT seal is checked with its embedded
    values). ``level``: ``None`` (XAdES-LT when a TSA is configured), ``"XAdES-LT"`` or
    ``"XAdES-T"`` (refused without a TSA) or ``"XAdES-BES"``.
    """
    from archive.ingest import DocumentMeta, IngestItem
    from insurance.xml130 import build_claim
    from signer.xml.verify import verify_xml

    tenant = tenant or services.settings.hospital_code
    xml = _seal(services, build_claim(encounter), seal_key_id=seal_key_id,
                placement="CHUKYDONVI", level=level)
    check = verify_xml(xml, trust_roots=_trust_roots_der(services), offline=True)
    if check.verdict != "VALID":
        raise SigningError("xml.seal_not_valid",
                           "Tệp XML 130 vừa ký không kiểm tra được: " + check.message_vi,
                           "The sealed XML 130 file does not verify: " + check.message_en)
    document_id = _document_id("xml130", encounter.link_code)
    receipt = services.archiver.archive_document(IngestItem(
        document_id=document_id,
        data=xml,
        media="xml",
        actor_id=actor_id,
        reason="xml130 export sealed",
        meta=DocumentMeta(
            tenant_id=tenant,
            form_code="xml130",
            form_version="qd130",
            encounter_ref=encounter.link_code,
            department=encounter.department_code,
            retention_class=retention_class,
            closed_year=encounter.discharged_at.year,
        ),
    ))
    log.info("xml130 exported document=%s version=%s", document_id, receipt.version)
    return ClaimExport(document_id, xml, receipt.object_key, receipt.version, check.verdict)


@dataclass(frozen=True)
class RecordExport:
    """A sealed, verified and archived ``HoSoBenhAn`` export."""

    exported: Any
    """``emr.export.ExportedRecord`` whose ``xml`` is the sealed file."""
    document_id: str
    object_key: str
    version: int
    verdict: str

    def write(self, out_dir: Any) -> list[Any]:
        return list(self.exported.write(out_dir))


def export_record_signed(services: Any, patient_id: str, *, actor_id: str,
                         seal_key_id: str | None = None,
                         retention_class: str = "INPATIENT_10Y",
                         level: str | None = None) -> RecordExport:
    """The patient's ``HoSoBenhAn`` (CV 365/TTYQG-GPQLCL) with its signed PDFs: checked
    against its XSD and identifier rules (``InvalidInput`` with per-field errors, nothing
    signed or archived, when the data is bad), sealed by the hospital (signature appended
    to the root; ``level`` as for :func:`export_claim`), verified, archived like a PDF (WORM, retention, index) and recorded in
    the audit chain."""
    from dataclasses import replace
    from datetime import UTC, datetime

    from sqlalchemy.orm import Session

    from archive.audit import AuditRecord
    from archive.ingest import DocumentMeta, IngestItem
    from emr.export import archive_fetcher, export_patient_record, record_errors
    from signer.xml.verify import verify_xml

    with Session(services.engine) as session:
        exported = export_patient_record(
            session, patient_id, fetch_pdf=archive_fetcher(services.index, services.store))
    xml = _seal(services, exported.xml, seal_key_id=seal_key_id, placement="", level=level)
    check = verify_xml(xml, trust_roots=_trust_roots_der(services), placement="", offline=True)
    if check.verdict != "VALID" or record_errors(xml):
        raise SigningError("xml.seal_not_valid",
                           "Tệp HoSoBenhAn vừa ký không kiểm tra được: " + check.message_vi,
                           "The sealed HoSoBenhAn file does not verify: " + check.message_en)
    tenant = services.settings.hospital_code
    document_id = _document_id("hosobenhan", patient_id)
    receipt = services.archiver.archive_document(IngestItem(
        document_id=document_id, data=xml, media="xml", actor_id=actor_id,
        reason="HoSoBenhAn export sealed",
        meta=DocumentMeta(tenant_id=tenant, form_code="hosobenhan", form_version="cv365",
                          patient_ref=patient_id, retention_class=retention_class,
                          closed_year=datetime.now(UTC).year),
    ))
    services.audit.append(AuditRecord(
        tenant_id=tenant, actor_id=actor_id, action="export",
        object_id=f"patient:{patient_id}", details={"format": "HoSoBenhAn",
                                                    "document_id": document_id,
                                                    "version": receipt.version,
                                                    "files": len(exported.files)}))
    log.info("hosobenhan exported document=%s version=%s", document_id, receipt.version)
    return RecordExport(replace(exported, xml=xml), document_id, receipt.object_key,
                        receipt.version, check.verdict)
