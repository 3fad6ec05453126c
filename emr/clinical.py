"""Clinical resources of the EMR model (FHIR R4-aligned)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from archive.models import utcnow
from emr.base import EmrBase, new_id


def _enc() -> Mapped[str | None]:
    return mapped_column(ForeignKey("emr_encounters.id"), index=True)


def _pat() -> Mapped[str]:
    return mapped_column(ForeignKey("emr_patients.id"))


class Condition(EmrBase):
    """A diagnosis coded in ICD-10 (admission, discharge, secondary...)."""

    __tablename__ = "emr_conditions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    patient_id: Mapped[str] = _pat()
    encounter_id: Mapped[str | None] = _enc()
    icd10: Mapped[str] = mapped_column(String(16))
    display: Mapped[str] = mapped_column(String(255))
    category: Mapped[str] = mapped_column(String(24), default="encounter-diagnosis")
    role: Mapped[str] = mapped_column(String(16), default="primary")
    """primary (bệnh chính), secondary (bệnh kèm theo), admission, discharge."""
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class DiagnosticReport(EmrBase):
    __tablename__ = "emr_diagnostic_reports"
    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    patient_id: Mapped[str] = _pat()
    encounter_id: Mapped[str | None] = _enc()
    code: Mapped[str] = mapped_column(String(32))
    display: Mapped[str] = mapped_column(String(255))
    category: Mapped[str] = mapped_column(String(16), default="LAB")
    status: Mapped[str] = mapped_column(String(16), default="final")
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    performer_id: Mapped[str | None] = mapped_column(ForeignKey("emr_practitioners.id"))
    conclusion: Mapped[str | None] = mapped_column(Text)


class Observation(EmrBase):
    """A laboratory result or vital sign."""

    __tablename__ = "emr_observations"
    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    patient_id: Mapped[str] = _pat()
    encounter_id: Mapped[str | None] = _enc()
    report_id: Mapped[str | None] = mapped_column(ForeignKey("emr_diagnostic_reports.id"),
                                                  index=True)
    code: Mapped[str] = mapped_column(String(32))
    code_system: Mapped[str] = mapped_column(String(64), default="http://loinc.org")
    display: Mapped[str] = mapped_column(String(255))
    value: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    unit: Mapped[str | None] = mapped_column(String(32))
    value_text: Mapped[str | None] = mapped_column(String(255))
    reference_low: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    reference_high: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    interpretation: Mapped[str | None] = mapped_column(String(8))
    """H, L, N (FHIR v3 ObservationInterpretation)."""
    status: Mapped[str] = mapped_column(String(16), default="final")
    effective_at: Mapped[datetime] = mapped_column(default=utcnow)


class MedicationRequest(EmrBase):
    __tablename__ = "emr_medication_requests"
    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    patient_id: Mapped[str] = _pat()
    encounter_id: Mapped[str | None] = _enc()
    medication_code: Mapped[str | None] = mapped_column(String(64))
    medication_name: Mapped[str] = mapped_column(String(255))
    strength: Mapped[str | None] = mapped_column(String(64))
    dosage_text: Mapped[str] = mapped_column(String(255))
    route: Mapped[str | None] = mapped_column(String(32))
    quantity: Mapped[Decimal] = mapped_column(Numeric(12, 3))
    unit: Mapped[str] = mapped_column(String(32))
    requester_id: Mapped[str | None] = mapped_column(ForeignKey("emr_practitioners.id"))
    status: Mapped[str] = mapped_column(String(16), default="active")
    authored_at: Mapped[datetime] = mapped_column(default=utcnow)


class MedicationAdministration(EmrBase):
    __tablename__ = "emr_medication_administrations"
    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    patient_id: Mapped[str] = _pat()
    encounter_id: Mapped[str | None] = _enc()
    request_id: Mapped[str | None] = mapped_column(ForeignKey("emr_medication_requests.id"))
    dose: Mapped[Decimal] = mapped_column(Numeric(12, 3))
    unit: Mapped[str] = mapped_column(String(32))
    performer_id: Mapped[str | None] = mapped_column(ForeignKey("emr_practitioners.id"))
    status: Mapped[str] = mapped_column(String(16), default="completed")
    administered_at: Mapped[datetime] = mapped_column(default=utcnow)


class Procedure(EmrBase):
    __tablename__ = "emr_procedures"
    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    patient_id: Mapped[str] = _pat()
    encounter_id: Mapped[str | None] = _enc()
    code: Mapped[str] = mapped_column(String(32))
    """Mã dịch vụ kỹ thuật (or ICD-9-CM)."""
    display: Mapped[str] = mapped_column(String(255))
    anesthesia: Mapped[str | None] = mapped_column(String(64))
    performer_id: Mapped[str | None] = mapped_column(ForeignKey("emr_practitioners.id"))
    status: Mapped[str] = mapped_column(String(16), default="completed")
    performed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChargeItem(EmrBase):
    """A billable line (thuốc, vật tư y tế, dịch vụ) with insurance and patient shares (VND)."""

    __tablename__ = "emr_charge_items"
    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    patient_id: Mapped[str] = _pat()
    encounter_id: Mapped[str | None] = _enc()
    category: Mapped[str] = mapped_column(String(16))
    """drug, supply, service, bed, exam, lab, imaging."""
    code: Mapped[str] = mapped_column(String(64))
    display: Mapped[str] = mapped_column(String(255))
    unit: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[Decimal] = mapped_column(Numeric(12, 3))
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    insurance_paid: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))
    patient_paid: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))
    entered_at: Mapped[datetime] = mapped_column(default=utcnow)


class DocumentReference(EmrBase):
    """A signed, archived document (points at the records index)."""

    __tablename__ = "emr_document_references"
    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    patient_id: Mapped[str] = _pat()
    encounter_id: Mapped[str | None] = _enc()
    archive_document_id: Mapped[str] = mapped_column(String(64), index=True)
    form_code: Mapped[str] = mapped_column(String(64))
    version: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(64), default="application/pdf")
    status: Mapped[str] = mapped_column(String(16), default="current")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Consent(EmrBase):
    __tablename__ = "emr_consents"
    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    patient_id: Mapped[str] = _pat()
    encounter_id: Mapped[str | None] = _enc()
    scope: Mapped[str] = mapped_column(String(24), default="treatment")
    category: Mapped[str] = mapped_column(String(64))
    """surgery, anesthesia, procedure, data-sharing..."""
    status: Mapped[str] = mapped_column(String(16), default="active")
    representative_id: Mapped[str | None] = mapped_column(ForeignKey("emr_related_persons.id"))
    document_reference_id: Mapped[str | None] = mapped_column(
        ForeignKey("emr_document_references.id"))
    date_time: Mapped[datetime] = mapped_column(default=utcnow)


class Provenance(EmrBase):
    """Who signed or sealed which document version, how, and when."""

    __tablename__ = "emr_provenance"
    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    document_reference_id: Mapped[str] = mapped_column(
        ForeignKey("emr_document_references.id"), index=True)
    activity: Mapped[str] = mapped_column(String(16))
    """sign, seal, timestamp."""
    agent_practitioner_id: Mapped[str | None] = mapped_column(ForeignKey("emr_practitioners.id"))
    agent_related_person_id: Mapped[str | None] = mapped_column(
        ForeignKey("emr_related_persons.id"))
    agent_role: Mapped[str] = mapped_column(String(48))
    method: Mapped[str] = mapped_column(String(32))
    level: Mapped[str | None] = mapped_column(String(8))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
