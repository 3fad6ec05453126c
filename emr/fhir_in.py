"""FHIR R4 resources from hospital systems → EMR rows (validated, not yet saved)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from core.errors import InvalidInput
from emr import models as m
from emr.fhir import (
    EXT_REPORT,
    EXT_WARD,
    SYS_BHYT,
    SYS_CCCD,
    SYS_CCHN,
    SYS_CSKCB,
    SYS_ICD10,
    SYS_PATIENT_CODE,
    SYS_RECORD_NO,
)
from emr.identifiers import validate_bhyt, validate_cccd, validate_icd10


def _ident(res: Any, system: str) -> str | None:
    for i in res.identifier or []:
        if i.system == system:
            return str(i.value)
    return None


def _ref_id(ref: Any, kind: str) -> str | None:
    if ref is None or not ref.reference:
        return None
    k, _, rid = str(ref.reference).partition("/")
    if k != kind or not rid:
        raise InvalidInput("fhir.bad_reference", f"Tham chiếu phải là {kind}/id.",
                           f"Reference must be {kind}/id.")
    return rid


def _dt(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return datetime.fromisoformat(str(value))


def _address(res: Any) -> dict[str, str | None]:
    if not res.address:
        return {"province": None, "ward": None, "address_line": None}
    a = res.address[0]
    ward = next((e.valueString for e in (a.extension or []) if e.url == EXT_WARD), a.city)
    return {"province": a.state, "ward": ward, "address_line": (a.line or [None])[0]}


def _name(res: Any) -> str:
    if not res.name:
        raise InvalidInput("fhir.missing_name", "Thiếu họ tên.", "Name is missing.")
    n = res.name[0]
    return str(n.text or " ".join([*(n.family and [n.family] or []), *(n.given or [])]))


def _phone(res: Any) -> str | None:
    return next((t.value for t in (res.telecom or []) if t.system == "phone"), None)


def _code(cc: Any) -> tuple[str, str, str]:
    c = cc.coding[0]
    return str(c.system or ""), str(c.code), str(c.display or cc.text or c.code)


def _patient(r: Any, tenant: str) -> m.Patient:
    cccd, bhyt = _ident(r, SYS_CCCD), _ident(r, SYS_BHYT)
    return m.Patient(id=r.id, tenant_id=tenant, name=_name(r), gender=r.gender or "unknown",
                     birth_date=r.birthDate, phone=_phone(r),
                     cccd=validate_cccd(cccd, birth_date=r.birthDate) if cccd else None,
                     bhyt_card=validate_bhyt(bhyt) if bhyt else None,
                     patient_code=_ident(r, SYS_PATIENT_CODE), **_address(r))


def _practitioner(r: Any, tenant: str) -> m.Practitioner:
    prefix = (r.name[0].prefix or [None])[0] if r.name else None
    return m.Practitioner(id=r.id, tenant_id=tenant, name=_name(r), title=prefix,
                          licence_number=_ident(r, SYS_CCHN), gender=r.gender,
                          birth_date=r.birthDate, active=r.active is not False)


def _organization(r: Any, tenant: str) -> m.Organization:
    kind = "department" if r.type and r.type[0].coding[0].code == "dept" else "hospital"
    return m.Organization(id=r.id, tenant_id=tenant, kind=kind, code=_ident(r, SYS_CSKCB) or r.id,
                          name=r.name, part_of_id=_ref_id(r.partOf, "Organization"),
                          phone=_phone(r), active=r.active is not False, **_address(r))


def _related_person(r: Any, tenant: str) -> m.RelatedPerson:
    cccd = _ident(r, SYS_CCCD)
    rel = r.relationship[0].coding[0].code if r.relationship else "GUARD"
    return m.RelatedPerson(id=r.id, patient_id=_ref_id(r.patient, "Patient"), name=_name(r),
                           relationship=rel, cccd=validate_cccd(cccd) if cccd else None,
                           phone=_phone(r))


def _encounter(r: Any, tenant: str) -> m.Encounter:
    cls = r.class_fhir.code
    if cls not in ("AMB", "IMP", "EMER"):
        raise InvalidInput("fhir.encounter_class", "Loại lượt khám: AMB, IMP hoặc EMER.",
                           "Encounter class must be AMB, IMP or EMER.")
    hosp = r.hospitalization
    attending = next((_ref_id(p.individual, "Practitioner") for p in (r.participant or [])
                      if p.individual), None)
    return m.Encounter(
        id=r.id, tenant_id=tenant, patient_id=_ref_id(r.subject, "Patient"), encounter_class=cls,
        status=r.status, medical_record_no=_ident(r, SYS_RECORD_NO),
        department_id=_ref_id(r.serviceProvider, "Organization"), attending_id=attending,
        admitted_at=_dt(r.period.start) if r.period else None,
        discharged_at=_dt(r.period.end) if r.period else None,
        reason=r.reasonCode[0].text if r.reasonCode else None,
        admission_source=hosp.admitSource.text if hosp and hosp.admitSource else None,
        discharge_disposition=(hosp.dischargeDisposition.text
                               if hosp and hosp.dischargeDisposition else None))


def _condition(r: Any, tenant: str) -> m.Condition:
    system, code, display = _code(r.code)
    if system != SYS_ICD10:
        raise InvalidInput("fhir.condition_system", "Chẩn đoán phải mã hóa ICD-10.",
                           "Conditions must be coded in ICD-10.")
    role = next((n.text[5:] for n in (r.note or []) if n.text and n.text.startswith("role:")),
                "primary")
    cat = r.category[0].coding[0].code if r.category else "encounter-diagnosis"
    return m.Condition(id=r.id, patient_id=_ref_id(r.subject, "Patient"),
                       encounter_id=_ref_id(r.encounter, "Encounter"), icd10=validate_icd10(code),
                       display=display, category=cat, role=role,
                       recorded_at=_dt(r.recordedDate) or datetime.now(UTC))


def _dec(q: Any) -> Decimal | None:
    return Decimal(str(q.value)) if q is not None and q.value is not None else None


def _observation(r: Any, tenant: str) -> m.Observation:
    system, code, display = _code(r.code)
    rr = r.referenceRange[0] if r.referenceRange else None
    vq = r.valueQuantity
    report = next((_ref_id(e.valueReference, "DiagnosticReport") for e in (r.extension or [])
                   if e.url == EXT_REPORT), None)
    return m.Observation(report_id=report,
        id=r.id, patient_id=_ref_id(r.subject, "Patient"),
        encounter_id=_ref_id(r.encounter, "Encounter"), code=code, code_system=system,
        display=display, value=_dec(vq), unit=vq.unit if vq else None, value_text=r.valueString,
        reference_low=_dec(rr.low) if rr else None, reference_high=_dec(rr.high) if rr else None,
        interpretation=r.interpretation[0].coding[0].code if r.interpretation else None,
        status=r.status, effective_at=_dt(r.effectiveDateTime) or datetime.now(UTC))


def _medication_request(r: Any, tenant: str) -> m.MedicationRequest:
    med = r.medicationCodeableConcept
    dose = r.dosageInstruction[0] if r.dosageInstruction else None
    q = r.dispenseRequest.quantity if r.dispenseRequest else None
    return m.MedicationRequest(
        id=r.id, patient_id=_ref_id(r.subject, "Patient"),
        encounter_id=_ref_id(r.encounter, "Encounter"),
        medication_code=med.coding[0].code if med and med.coding else None,
        medication_name=med.text if med else "?", dosage_text=dose.text if dose else "",
        route=dose.route.text if dose and dose.route else None,
        quantity=_dec(q) or Decimal(0), unit=q.unit if q else "",
        requester_id=_ref_id(r.requester, "Practitioner"), status=r.status,
        authored_at=_dt(r.authoredOn) or datetime.now(UTC))


def _procedure(r: Any, tenant: str) -> m.Procedure:
    _, code, display = _code(r.code)
    anesthesia = next((n.text[11:] for n in (r.note or [])
                       if n.text and n.text.startswith("anesthesia:")), None)
    performer = next((_ref_id(p.actor, "Practitioner") for p in (r.performer or [])), None)
    return m.Procedure(id=r.id, patient_id=_ref_id(r.subject, "Patient"),
                       encounter_id=_ref_id(r.encounter, "Encounter"), code=code,
                       display=display, anesthesia=anesthesia, performer_id=performer,
                       status=r.status, performed_at=_dt(r.performedDateTime) or datetime.now(UTC))


_FROM: dict[str, Callable[[Any, str], Any]] = {
    "Patient": _patient, "Practitioner": _practitioner, "Organization": _organization,
    "RelatedPerson": _related_person, "Encounter": _encounter, "Condition": _condition,
    "Observation": _observation, "MedicationRequest": _medication_request,
    "Procedure": _procedure,
}


def from_fhir(resource: Any, tenant_id: str) -> Any:
    """A new EMR row from a FHIR resource (a ``fhir.resources`` model or its JSON dict)."""
    if isinstance(resource, dict):
        import importlib

        kind = str(resource.get("resourceType", ""))
        if kind not in _FROM:
            raise InvalidInput("fhir.unsupported", f"Không hỗ trợ tài nguyên {kind}.",
                               f"Unsupported resource {kind}.")
        module = importlib.import_module(f"fhir.resources.R4B.{kind.lower()}")
        try:
            resource = getattr(module, kind).model_validate(resource)
        except ValueError as e:
            raise InvalidInput("fhir.invalid", "Tài nguyên FHIR không hợp lệ.",
                               "Invalid FHIR resource.", details=[{"message": str(e)[:500]}]) from e
    kind = type(resource).__name__
    if kind not in _FROM:
        raise InvalidInput("fhir.unsupported", f"Không hỗ trợ tài nguyên {kind}.",
                           f"Unsupported resource {kind}.")
    return _FROM[kind](resource, tenant_id)
