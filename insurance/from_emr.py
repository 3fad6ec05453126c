"""The XML 130 values of one encounter, read from the EMR model (``emr/``).

Administrative-unit codes (MATINH_CU_TRU, MAXA_CU_TRU) are not in the EMR, which
keeps names: they come from ``admin_codes`` (name → code, e.g. the hospital's
copy of the official list after the 2025 two-level reform, kept as
``{data_dir}/admin_units.json``). A name with no code is reported per field.
Benefit levels come from the card (its third character), as the format defines.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InvalidInput, NotFound
from insurance.fields import GROUP_BY_CATEGORY
from insurance.model import (
    ClaimEncounter,
    ClaimPatient,
    DrugLine,
    LabResultLine,
    ProgressNote,
    ServiceLine,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
VISIT_TYPE = {"AMB": "01", "IMP": "03", "EMER": "03"}
DISCHARGE_TYPE = {"home": 1, "transfer": 2, "against-advice": 4}
# MUC_HUONG by the benefit-level digit of the card (3rd character).
BENEFIT_LEVEL = {"1": 100, "2": 100, "3": 95, "4": 80, "5": 100}
GROUP = GROUP_BY_CATEGORY  # MA_NHOM (group of the cost line) by ChargeItem.category


def load_admin_codes(data_dir: Path) -> dict[str, str]:
    path = data_dir / "admin_units.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in data.items()}


def _local(dt: datetime | None) -> datetime:
    if dt is None:
        return datetime.now(VN).replace(tzinfo=None)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(VN).replace(tzinfo=None)


def claim_encounter_from_emr(session: Session, encounter_id: str, *,
                             admin_codes: Mapping[str, str]) -> ClaimEncounter:
    from emr import models as m
    from emr.clinical import ChargeItem, Condition, MedicationRequest, Observation, Procedure

    enc = session.get(m.Encounter, encounter_id)
    if enc is None:
        raise NotFound("xml130.encounter_not_found", "Không tìm thấy đợt điều trị.",
                       "Encounter not found.")
    p = session.get(m.Patient, enc.patient_id)
    if p is None:
        raise NotFound("xml130.patient_not_found", "Không tìm thấy người bệnh.",
                       "Patient not found.")
    hospital = session.execute(select(m.Organization).where(
        m.Organization.tenant_id == enc.tenant_id, m.Organization.kind == "hospital")).scalar()
    dept = session.get(m.Organization, enc.department_id) if enc.department_id else None
    doctor = session.get(m.Practitioner, enc.attending_id) if enc.attending_id else None
    doctor_code = (doctor.licence_number if doctor and doctor.licence_number else "") or "?"

    errors = []
    codes = {}
    for field, name in (("XML1.MATINH_CU_TRU", p.province), ("XML1.MAXA_CU_TRU", p.ward)):
        code = name if name and name.isdigit() else admin_codes.get(name or "")
        if not code:
            errors.append({"field": field,
                           "message_vi": f"Chưa có mã đơn vị hành chính cho “{name}”: bổ sung "
                                         "vào danh mục admin_units.json.",
                           "message_en": f"No administrative-unit code for “{name}”: add it to "
                                         "admin_units.json."})
        codes[field] = code or ""
    card, valid_from, valid_to, dob = p.bhyt_card, p.bhyt_valid_from, p.bhyt_valid_to, p.birth_date
    if not card or not valid_from or not valid_to:
        errors.append({"field": "XML1.MA_THE_BHYT",
                       "message_vi": "Người bệnh không có thẻ BHYT còn giá trị.",
                       "message_en": "The patient has no valid health-insurance card."})
    if dob is None:
        errors.append({"field": "XML1.NGAY_SINH", "message_vi": "Người bệnh chưa có ngày sinh.",
                       "message_en": "The patient's date of birth is missing."})
    if errors or not card or not valid_from or not valid_to or dob is None:
        raise InvalidInput("xml130.invalid", "Dữ liệu bảng XML 130 không hợp lệ; chưa tạo tệp nào.",
                           "The XML 130 data is invalid; no file was produced.", details=errors)

    conditions = list(session.execute(select(Condition).where(
        Condition.encounter_id == enc.id).order_by(Condition.recorded_at)).scalars())
    main = next((c for c in conditions if c.role == "primary"), conditions[0] if conditions else None)
    secondary = tuple(c.icd10 for c in conditions if c is not main)
    level = BENEFIT_LEVEL.get(card[2], 80)
    rate = 100 if enc.insurance_covered else 0
    dept_code = dept.code if dept else ""
    admitted, discharged = _local(enc.admitted_at), _local(enc.discharged_at)

    requests = {r.medication_code: r for r in session.execute(select(MedicationRequest).where(
        MedicationRequest.encounter_id == enc.id)).scalars()}
    drugs, services = [], []
    for ci in session.execute(select(ChargeItem).where(ChargeItem.encounter_id == enc.id)
                              .order_by(ChargeItem.entered_at, ChargeItem.id)).scalars():
        at = _local(ci.entered_at)
        if ci.category == "drug":
            mr = requests.get(ci.code)
            drugs.append(DrugLine(
                drug_code=ci.code, name=ci.display, unit=ci.unit,
                strength=(mr.strength or "") if mr else "", route=(mr.route or "") if mr else "",
                dosage=mr.dosage_text if mr else "", registration_no="", group_code=GROUP["drug"],
                quantity=Decimal(ci.quantity), unit_price=Decimal(ci.unit_price),
                insurance_rate=rate, benefit_level=level, department_code=dept_code,
                doctor_code=doctor_code, ordered_at=_local(mr.authored_at) if mr else at,
                given_at=at))
        else:
            services.append(ServiceLine(
                service_code=ci.code, name=ci.display, unit=ci.unit,
                group_code=GROUP.get(ci.category, 8), quantity=Decimal(ci.quantity),
                unit_price=Decimal(ci.unit_price), insurance_rate=rate, benefit_level=level,
                department_code=dept_code, doctor_code=doctor_code, ordered_at=at,
                performed_at=at, is_supply=ci.category == "supply"))
    labs = tuple(LabResultLine(
        service_code=o.code, indicator_code=o.code, indicator_name=o.display,
        value=o.value_text or (format(o.value.normalize(), "f") if o.value is not None else ""),
        unit=o.unit or "", reported_at=_local(o.effective_at), reading_doctor_code=doctor_code,
        conclusion={"H": "Tăng", "L": "Giảm"}.get(o.interpretation or "", ""))
        for o in session.execute(select(Observation).where(
            Observation.encounter_id == enc.id).order_by(Observation.effective_at)).scalars())
    notes = tuple(ProgressNote(course=f"{pr.display}" + (f" ({pr.anesthesia})" if pr.anesthesia
                                                           else ""),
                               at=_local(pr.performed_at), performed_by=doctor_code,
                               surgery=pr.display)
                  for pr in session.execute(select(Procedure).where(
                      Procedure.encounter_id == enc.id)).scalars())
    return ClaimEncounter(
        link_code=f"{enc.tenant_id}-{enc.id}"[:100],
        facility_code=(hospital.code if hospital else enc.tenant_id),
        patient=ClaimPatient(
            patient_code=p.patient_code or p.id, full_name=p.name, citizen_id=p.cccd or "",
            dob=dob, sex={"male": 1, "female": 2}.get(p.gender, 3),
            address=", ".join(x for x in (p.address_line, p.ward, p.province) if x),
            province_code=codes["XML1.MATINH_CU_TRU"], commune_code=codes["XML1.MAXA_CU_TRU"],
            insurance_card=card, insurance_registered_facility=(
                hospital.code if hospital else enc.tenant_id),
            card_valid_from=valid_from, card_valid_to=valid_to, phone=p.phone or ""),
        admitted_at=admitted, discharged_at=discharged,
        visit_type=VISIT_TYPE.get(enc.encounter_class, "01"), department_code=dept_code or "K01",
        reason=enc.reason or "", admission_diagnosis=main.display if main else "",
        discharge_diagnosis=main.display if main else "", main_icd10=main.icd10 if main else "",
        secondary_icd10=secondary,
        discharge_type=DISCHARGE_TYPE.get(enc.discharge_disposition or "home", 1),
        treatment_result=5 if enc.discharge_disposition == "expired" else 1,
        record_number=enc.medical_record_no or "",
        drugs=tuple(drugs), services=tuple(services), lab_results=labs, progress_notes=notes)


def claim_encounter_for(encounter_id: str) -> ClaimEncounter:
    """For the CLI: read the encounter through the configured records database."""
    from sqlalchemy.orm import Session as OrmSession

    from workflow.services import Services

    services = Services.from_settings()
    try:
        with OrmSession(services.engine) as session:
            return claim_encounter_from_emr(
                session, encounter_id, admin_codes=load_admin_codes(services.settings.data_dir))
    finally:
        services.close()
