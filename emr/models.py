"""EMR model, FHIR R4-aligned: organisations, people and encounters.

Clinical resources (conditions, observations, medications, procedures,
charges, consents, documents, provenance) are in ``emr.clinical`` and
re-exported here. Addresses use the two-level administrative units in force
since 1 July 2025 (tỉnh/thành phố → xã/phường/đặc khu; no district level).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from archive.models import utcnow
from emr.base import EmrBase, new_id
from emr.clinical import (
    ChargeItem,
    Condition,
    Consent,
    DiagnosticReport,
    DocumentReference,
    MedicationAdministration,
    MedicationRequest,
    Observation,
    Procedure,
    Provenance,
)

__all__ = [
    "ChargeItem", "Condition", "Consent", "DiagnosticReport", "DocumentReference", "EmrBase",
    "Encounter", "MedicationAdministration", "MedicationRequest", "Observation", "Organization",
    "Patient", "Practitioner", "PractitionerRole", "Procedure", "Provenance", "RelatedPerson",
]


class Organization(EmrBase):
    """A hospital (``kind='hospital'``, code = mã cơ sở KCB) or one of its departments."""

    __tablename__ = "emr_organizations"
    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    part_of_id: Mapped[str | None] = mapped_column(ForeignKey("emr_organizations.id"))
    province: Mapped[str | None] = mapped_column(String(64))
    ward: Mapped[str | None] = mapped_column(String(128))
    address_line: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    __table_args__ = (Index("ix_emr_org_code", "tenant_id", "code", unique=True),)


class Practitioner(EmrBase):
    __tablename__ = "emr_practitioners"
    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(String(64))
    """Học hàm/học vị/chức danh: BS, BSCKI, ThS.BS, ĐD, KTV..."""
    licence_number: Mapped[str | None] = mapped_column(String(32), index=True)
    """Số chứng chỉ hành nghề / giấy phép hành nghề (CCHN)."""
    gender: Mapped[str | None] = mapped_column(String(8))
    birth_date: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class PractitionerRole(EmrBase):
    __tablename__ = "emr_practitioner_roles"
    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    practitioner_id: Mapped[str] = mapped_column(ForeignKey("emr_practitioners.id"), index=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("emr_organizations.id"))
    role: Mapped[str] = mapped_column(String(48))
    """doctor, nurse, head_of_department, technician, pharmacist, cashier, director..."""
    specialty: Mapped[str | None] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Patient(EmrBase):
    __tablename__ = "emr_patients"
    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(String(32))
    patient_code: Mapped[str | None] = mapped_column(String(32))
    """Mã người bệnh in the hospital."""
    cccd: Mapped[str | None] = mapped_column(String(12))
    """Số định danh cá nhân (12 digits)."""
    bhyt_card: Mapped[str | None] = mapped_column(String(15))
    bhyt_valid_from: Mapped[date | None] = mapped_column(Date)
    bhyt_valid_to: Mapped[date | None] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(255))
    birth_date: Mapped[date | None] = mapped_column(Date)
    gender: Mapped[str] = mapped_column(String(8))
    """FHIR administrative gender: male, female, other, unknown."""
    ethnicity: Mapped[str | None] = mapped_column(String(64))
    nationality: Mapped[str | None] = mapped_column(String(64), default="VN")
    occupation: Mapped[str | None] = mapped_column(String(128))
    province: Mapped[str | None] = mapped_column(String(64))
    ward: Mapped[str | None] = mapped_column(String(128))
    address_line: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (
        Index("ix_emr_patients_cccd", "tenant_id", "cccd"),
        Index("ix_emr_patients_bhyt", "tenant_id", "bhyt_card"),
        Index("ix_emr_patients_code", "tenant_id", "patient_code"),
    )


class RelatedPerson(EmrBase):
    """A representative (người đại diện / người giám hộ / thân nhân)."""

    __tablename__ = "emr_related_persons"
    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    patient_id: Mapped[str] = mapped_column(ForeignKey("emr_patients.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    relationship: Mapped[str] = mapped_column(String(32))
    """FHIR v3 RoleCode: FTH, MTH, SPS, CHILD, GUARD, ..."""
    cccd: Mapped[str | None] = mapped_column(String(12))
    phone: Mapped[str | None] = mapped_column(String(32))
    address_line: Mapped[str | None] = mapped_column(Text)


class Encounter(EmrBase):
    """Lượt khám / đợt điều trị: outpatient (AMB), inpatient (IMP) or emergency (EMER)."""

    __tablename__ = "emr_encounters"
    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(String(32))
    patient_id: Mapped[str] = mapped_column(ForeignKey("emr_patients.id"), index=True)
    encounter_class: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="in-progress")
    medical_record_no: Mapped[str | None] = mapped_column(String(32))
    """Số lưu trữ / mã bệnh án."""
    department_id: Mapped[str | None] = mapped_column(ForeignKey("emr_organizations.id"))
    attending_id: Mapped[str | None] = mapped_column(ForeignKey("emr_practitioners.id"))
    admitted_at: Mapped[datetime]
    discharged_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
    admission_source: Mapped[str | None] = mapped_column(String(32))
    discharge_disposition: Mapped[str | None] = mapped_column(String(32))
    """home, transfer (chuyển viện), against-advice, expired (tử vong)..."""
    insurance_covered: Mapped[bool] = mapped_column(Boolean, default=False)
    __table_args__ = (Index("ix_emr_encounters_tenant", "tenant_id", "admitted_at"),)
