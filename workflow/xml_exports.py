"""Signed XML exports: the XML 130 social-insurance claim, sealed by the hospital and archived.

build (``insurance.xml130``) → sign with the organisation seal held by key custody
(``signer.xml``, XAdES-BES enveloped, into ``CHUKYDONVI``) → verify → archive like
a PDF (WORM object with retention, index row, audit event).
"""

from __future__ import annotations

import logging
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


def _trust_roots_der(services: Any) -> list[bytes]:
    return [c.dump() for c in services.trust_roots]


def export_claim(
    services: Any,
    encounter: ClaimEncounter,
    *,
    actor_id: str,
    tenant: str | None = None,
    seal_key_id: str | None = None,
    retention_class: str = "INPATIENT_10Y",
) -> ClaimExport:
    """Build, seal, verify and archive the claim of one encounter.

    Nothing is archived unless the sealed file verifies (``VALID``) against the
    service's trust anchors.
    """
    from archive.ingest import DocumentMeta, IngestItem
    from insurance.xml130 import build_claim
    from signer.xml.sign import sign_enveloped
    from signer.xml.verify import verify_xml

    tenant = tenant or services.settings.hospital_code
    signer = seal_signer(services, seal_key_id)
    xml = sign_enveloped(build_claim(encounter), signer=signer)
    check = verify_xml(xml, trust_roots=_trust_roots_der(services), offline=True)
    if check.verdict != "VALID":
        raise SigningError("xml.seal_not_valid",
                           "Tệp XML 130 vừa ký không kiểm tra được: " + check.message_vi,
                           "The sealed XML 130 file does not verify: " + check.message_en)
    document_id = f"xml130-{encounter.link_code}"
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


def export_record_signed(services: Any, patient_id: str, *, actor_id: str,
                         seal_key_id: str | None = None) -> Any:
    """The patient's ``HoSoBenhAn`` (CV 365/TTYQG-GPQLCL) with its signed PDFs, the XML
    sealed by the hospital (signature appended to the root), verified, and the
    export recorded in the audit chain."""
    from dataclasses import replace

    from sqlalchemy.orm import Session

    from archive.audit import AuditRecord
    from emr.export import archive_fetcher, export_patient_record
    from signer.xml.sign import sign_enveloped
    from signer.xml.verify import verify_xml

    with Session(services.engine) as session:
        exported = export_patient_record(
            session, patient_id, fetch_pdf=archive_fetcher(services.index, services.store))
    xml = sign_enveloped(exported.xml, signer=seal_signer(services, seal_key_id), placement="")
    check = verify_xml(xml, trust_roots=_trust_roots_der(services), placement="", offline=True)
    if check.verdict != "VALID":
        raise SigningError("xml.seal_not_valid",
                           "Tệp HoSoBenhAn vừa ký không kiểm tra được: " + check.message_vi,
                           "The sealed HoSoBenhAn file does not verify: " + check.message_en)
    services.audit.append(AuditRecord(
        tenant_id=services.settings.hospital_code, actor_id=actor_id, action="export",
        object_id=f"patient:{patient_id}", details={"format": "HoSoBenhAn",
                                                    "files": len(exported.files)}))
    return replace(exported, xml=xml)
