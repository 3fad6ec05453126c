"""Form payloads from the EMR: the JSON each form template takes (``templates/forms/*/v1``).

``form_data_for(session, form_code, encounter_id)`` fills the parts the EMR
knows (facility, patient, encounter, diagnoses, people, results, medicines,
charges); fields only a person can write (free-text notes) are left out or
given a neutral default. Times are shown in Asia/Ho_Chi_Minh.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InvalidInput, NotFound
from emr import models as m

VN = ZoneInfo("Asia/Ho_Chi_Minh")
ENCOUNTER_TYPE = {"AMB": "outpatient", "IMP": "inpatient", "EMER": "emergency"}
RELATIONSHIP_VI = {"HUSB": "Chồng", "WIFE": "Vợ", "SPS": "Vợ/chồng", "FTH": "Cha", "MTH": "Mẹ",
                   "CHILD": "Con", "SON": "Con trai", "DAU": "Con gái", "GUARD": "Người giám hộ",
                   "SIB": "Anh/chị/em"}
SEX = {"male": "male", "female": "female"}


def _local(dt: datetime | None) -> str | None:
    return dt.astimezone(VN).strftime("%Y-%m-%dT%H:%M") if dt else None


def _num(d: Decimal) -> float | int:
    return int(d) if d == d.to_integral_value() else float(d)


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v not in (None, "", [])}


def _person(p: m.Practitioner | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return _clean({"full_name": p.name, "title": p.title, "practitioner_id": p.licence_number})


class _Ctx:
    def __init__(self, s: Session, encounter_id: str) -> None:
        enc = s.get(m.Encounter, encounter_id)
        if enc is None:
            raise NotFound("emr.encounter_not_found", "Không tìm thấy lượt khám.",
                           "Encounter not found.")
        self.s, self.enc = s, enc
        self.patient = s.get(m.Patient, enc.patient_id)
        self.dept = s.get(m.Organization, enc.department_id) if enc.department_id else None
        hosp_id = self.dept.part_of_id if self.dept and self.dept.part_of_id else None
        self.hospital = s.get(m.Organization, hosp_id) if hosp_id else None

    def rows(self, model: Any) -> list[Any]:
        return list(self.s.execute(select(model).where(model.encounter_id == self.enc.id)
                                   .order_by(model.id)).scalars())

    def staff(self, role: str, org_id: str | None = None) -> m.Practitioner | None:
        q = select(m.Practitioner).join(
            m.PractitionerRole, m.PractitionerRole.practitioner_id == m.Practitioner.id).where(
            m.PractitionerRole.role == role, m.Practitioner.tenant_id == self.enc.tenant_id)
        if org_id:
            q = q.where(m.PractitionerRole.organization_id == org_id)
        return self.s.execute(q.order_by(m.Practitioner.id).limit(1)).scalar()

    def common(self) -> dict[str, Any]:
        p, enc, h = self.patient, self.enc, self.hospital
        assert p is not None
        address = ", ".join(x for x in (p.address_line, p.ward, p.province and
                                        f"tỉnh {p.province}") if x)
        conds = self.rows(m.Condition)
        primary = next((c for c in conds if c.role == "primary"), conds[0] if conds else None)
        data: dict[str, Any] = {
            "facility": _clean({
                "authority": f"Sở Y tế {h.province}" if h and h.province else None,
                "name": h.name if h else "?", "code": h.code if h else None,
                "department": self.dept.name if self.dept else None,
                "place": h.province if h else None}),
            "patient": _clean({
                "full_name": p.name, "dob": p.birth_date.isoformat() if p.birth_date else None,
                "sex": SEX.get(p.gender, "other"), "cccd": p.cccd, "bhyt_card": p.bhyt_card,
                "bhyt_valid_to": p.bhyt_valid_to.isoformat() if p.bhyt_valid_to else None,
                "address": address, "patient_id": p.patient_code, "phone": p.phone,
                "ethnicity": p.ethnicity, "occupation": p.occupation,
                "nationality": p.nationality}),
            "encounter": _clean({
                "record_number": enc.medical_record_no, "admission_time": _local(enc.admitted_at),
                "discharge_time": _local(enc.discharged_at),
                "ward": self.dept.name if self.dept else None,
                "type": ENCOUNTER_TYPE[enc.encounter_class], "reason": enc.reason}),
        }
        if primary is not None:
            data["diagnosis"] = {"code": primary.icd10, "name": primary.display}
        secondary = [{"code": c.icd10, "name": c.display} for c in conds if c is not primary]
        data["_secondary"] = secondary
        return data

    def attending(self) -> m.Practitioner | None:
        return self.s.get(m.Practitioner, self.enc.attending_id) if self.enc.attending_id \
            else None


def _signed_at() -> str:
    return datetime.now(UTC).astimezone(VN).strftime("%Y-%m-%dT%H:%M")


def _with_secondary(d: dict[str, Any]) -> dict[str, Any]:
    sec = d.pop("_secondary")
    if sec:
        d["secondary_diagnoses"] = sec
    return d


def _consent_surgery(c: _Ctx) -> dict[str, Any]:
    d = c.common()
    d.pop("_secondary")
    proc = next(iter(c.rows(m.Procedure)), None)
    if proc is None:
        raise InvalidInput("emr.no_procedure", "Lượt khám chưa có phẫu thuật/thủ thuật.",
                           "The encounter has no procedure.")
    d["procedure"] = _clean({"name": proc.display, "kind": "surgery",
                             "anesthesia": proc.anesthesia,
                             "planned_at": _local(proc.performed_at)})
    rep = c.s.execute(select(m.RelatedPerson).where(m.RelatedPerson.patient_id == c.enc.patient_id)
                      .order_by(m.RelatedPerson.id)).scalar()
    if rep is not None:
        d["representative"] = _clean({
            "full_name": rep.name, "relationship": RELATIONSHIP_VI.get(rep.relationship,
                                                                       rep.relationship),
            "cccd": rep.cccd, "address": rep.address_line, "phone": rep.phone})
    return _with_doctor_and_head(c, d)


def _lab_result(c: _Ctx) -> dict[str, Any]:
    d = c.common()
    d.pop("_secondary")
    obs = c.rows(m.Observation)
    results = []
    for o in obs:
        rr = (f"{_num(o.reference_low)} - {_num(o.reference_high)}"
              if o.reference_low is not None and o.reference_high is not None else None)
        value = str(_num(o.value)) if o.value is not None else (o.value_text or "")
        results.append(_clean({"code": o.code, "test": o.display, "value": value,
                               "unit": o.unit, "reference_range": rr,
                               "flag": o.interpretation if o.interpretation in ("H", "L", "A")
                               else None}))
    report = next(iter(c.rows(m.DiagnosticReport)), None)
    d["results"] = results
    if obs:
        d["sample"] = {"type": "Máu", "collected_at": _local(obs[0].effective_at)}
    d["ordering_doctor"] = _person(c.attending())
    d["technician"] = _person(c.staff("technician", c.enc.department_id) or c.attending())
    d["approving_physician"] = _person(c.staff("head_of_department", c.enc.department_id)
                                       or c.attending())
    d["approved_at"] = _local(report.issued_at) if report else _signed_at()
    if report and report.conclusion:
        d["comment"] = report.conclusion
    return _clean(d)


def _prescription(c: _Ctx) -> dict[str, Any]:
    d = _with_secondary(c.common())
    d["medicines"] = [_clean({"name": r.medication_name, "strength": r.strength,
                              "quantity": _num(r.quantity), "unit": r.unit,
                              "directions": r.dosage_text}) for r in c.rows(m.MedicationRequest)]
    d["doctor"] = _person(c.attending())
    d["signed_at"] = _signed_at()
    return d


def _billing(c: _Ctx) -> dict[str, Any]:
    d = _with_secondary(c.common())
    lines = []
    for ci in c.rows(m.ChargeItem):
        lines.append({"group": ci.category, "code": ci.code, "name": ci.display,
                      "unit": ci.unit, "quantity": _num(ci.quantity),
                      "unit_price": _num(ci.unit_price), "insurance_paid": _num(ci.insurance_paid),
                      "patient_self_pay": _num(ci.patient_paid)})
    d["lines"] = lines
    d["cashier"] = _person(c.staff("cashier")) or {"full_name": "Phòng Tài chính - Kế toán"}
    d["doctor"] = _person(c.attending())
    d["signed_at"] = _signed_at()
    return d


def _drug_disclosure(c: _Ctx) -> dict[str, Any]:
    d = c.common()
    d.pop("_secondary")
    reqs = {r.id: r for r in c.rows(m.MedicationRequest)}
    items = []
    for a in c.rows(m.MedicationAdministration):
        r = reqs.get(a.request_id or "")
        items.append(_clean({"name": r.medication_name if r else "?", "kind": "drug",
                             "strength": r.strength if r else None, "unit": a.unit,
                             "date": a.administered_at.astimezone(VN).date().isoformat(),
                             "quantity": _num(a.dose)}))
    dates = sorted(i["date"] for i in items) or [datetime.now(VN).date().isoformat()]
    d["items"] = items
    d["period"] = {"from": dates[0], "to": dates[-1]}
    d["nurse"] = _person(c.staff("nurse", c.enc.department_id)) or _person(c.attending())
    d["signed_at"] = _signed_at()
    return d


def _doctor_summary(director: bool) -> Callable[[_Ctx], dict[str, Any]]:
    def build(c: _Ctx) -> dict[str, Any]:
        d = _with_secondary(c.common())
        d["doctor"] = _person(c.attending())
        head = _person(c.staff("head_of_department", c.enc.department_id))
        if head:
            d["director" if director else "head_of_department"] = head
        d["signed_at"] = _signed_at()
        return d
    return build


def _care_sheet(c: _Ctx) -> dict[str, Any]:
    d = c.common()
    d.pop("_secondary")
    d["entries"] = [{"at": _local(c.enc.admitted_at), "observation": "Tiếp nhận người bệnh",
                     "care": "Theo dõi dấu hiệu sinh tồn"}]
    d["nurse"] = _person(c.staff("nurse", c.enc.department_id)) or _person(c.attending())
    d["signed_at"] = _signed_at()
    return d


def _treatment_sheet(c: _Ctx) -> dict[str, Any]:
    d = c.common()
    d.pop("_secondary")
    orders = [f"{r.medication_name}: {r.dosage_text}" for r in c.rows(m.MedicationRequest)]
    d["entries"] = [{"at": _local(c.enc.admitted_at), "progress": c.enc.reason or "-",
                     "orders": orders or ["Theo dõi"], "doctor": _person(c.attending())}]
    return d


# Bệnh án nội khoa (01/BV1): FHIR admitSource / dischargeDisposition texts as the EMR
# stores them → the form's tick boxes; vital signs by LOINC code.
ADMISSION_ROUTE = {"emergency": "emergency", "emd": "emergency", "outp": "outpatient_clinic",
                   "outpatient": "outpatient_clinic", "clinic": "outpatient_clinic",
                   "ward": "ward"}
REFERRAL_SOURCE = {"hosp-trans": "health_facility", "gp": "health_facility",
                   "mp": "health_facility", "self": "self"}
DISCHARGE_KIND = {"home": "discharged", "against-advice": "requested", "escaped": "absconded"}
VITALS = {"8867-4": "pulse", "8310-5": "temperature", "9279-1": "respiratory_rate",
          "29463-7": "weight", "8302-2": "height"}


def _vitals(c: _Ctx) -> dict[str, Any]:
    """The first recorded value of each vital sign of the encounter (the admission exam)."""
    found: dict[str, Any] = {}
    bp: dict[str, str] = {}
    for o in sorted(c.rows(m.Observation), key=lambda o: o.effective_at):
        key = VITALS.get(o.code)
        if key and o.value is not None and key not in found:
            v = _num(o.value)
            found[key] = int(v) if key in ("pulse", "respiratory_rate", "height") else v
        elif o.code == "85354-9" and o.value_text and "bp" not in bp:
            bp["bp"] = o.value_text
        elif o.code in ("8480-6", "8462-4") and o.value is not None and o.code not in bp:
            bp[o.code] = str(int(o.value))
    if "bp" in bp:
        found["blood_pressure"] = bp["bp"]
    elif "8480-6" in bp and "8462-4" in bp:
        found["blood_pressure"] = f"{bp['8480-6']}/{bp['8462-4']}"
    return found


def _inpatient_record(c: _Ctx) -> dict[str, Any]:
    if c.enc.encounter_class != "IMP":
        raise InvalidInput("emr.not_inpatient",
                           "Bệnh án nội khoa (01/BV1) chỉ lập cho lượt điều trị nội trú.",
                           "The inpatient record (01/BV1) is only for an inpatient encounter.")
    d = c.common()
    d.pop("_secondary")
    d.pop("diagnosis", None)
    conds = c.rows(m.Condition)
    main = next((x for x in conds if x.role in ("discharge", "primary")), None)
    admission = next((x for x in conds if x.role == "admission"), main)
    if admission is None or not (c.enc.reason or "").strip():
        raise InvalidInput("emr.incomplete_admission",
                           "Lượt điều trị chưa có lý do vào viện hoặc chẩn đoán khi vào khoa.",
                           "The encounter has no reason for admission or admission diagnosis.")
    secondary = [{"code": x.icd10, "name": x.display} for x in conds if x.role == "secondary"]
    d["admission_diagnosis"] = {"code": admission.icd10, "name": admission.display}
    if secondary:
        d["admission_secondary_diagnoses"] = secondary
    d["reason"] = c.enc.reason
    d["payer"] = "bhyt" if c.enc.insurance_covered else "fee"
    source = c.enc.admission_source or ""
    management = _clean({"admission_route": ADMISSION_ROUTE.get(source),
                         "referral_source": REFERRAL_SOURCE.get(source),
                         "discharge_kind": DISCHARGE_KIND.get(c.enc.discharge_disposition or "")})
    if c.enc.discharged_at is not None:
        if main is not None:
            d["diagnosis"] = {"code": main.icd10, "name": main.display}
            if secondary:
                d["secondary_diagnoses"] = secondary
        days = (c.enc.discharged_at.astimezone(VN).date()
                - c.enc.admitted_at.astimezone(VN).date()).days
        management["total_days"] = max(days, 1)  # ngày ra − ngày vào; a same-day stay is 1
        if c.enc.discharge_disposition == "expired":
            d["outcome"] = {"result": "died"}
    if management:
        d["management"] = management
    rep = c.s.execute(select(m.RelatedPerson).where(m.RelatedPerson.patient_id == c.enc.patient_id)
                      .order_by(m.RelatedPerson.id)).scalar()
    if rep is not None:
        d["emergency_contact"] = _clean({
            "full_name": rep.name,
            "relationship": RELATIONSHIP_VI.get(rep.relationship, rep.relationship),
            "address": rep.address_line, "phone": rep.phone})
    vitals = _vitals(c)
    if vitals:
        d["examination"] = {"vitals": vitals}
    return _with_doctor_and_head(c, d)


BUILDERS: dict[str, Callable[[_Ctx], dict[str, Any]]] = {
    "consent_surgery": _consent_surgery, "lab_result": _lab_result,
    "prescription": _prescription, "billing_01kbcb": _billing,
    "drug_disclosure": _drug_disclosure, "discharge_paper": _doctor_summary(True),
    "record_summary": _doctor_summary(True), "outpatient_record_15bv1": _doctor_summary(False),
    "care_sheet": _care_sheet, "treatment_sheet": _treatment_sheet,
    "inpatient_record_01bv1": _inpatient_record,
}


def form_data_for(session: Session, form_code: str, encounter_id: str) -> dict[str, Any]:
    """The JSON payload of ``form_code`` for an encounter (``templates.render_form`` takes it)."""
    builder = BUILDERS.get(form_code)
    if builder is None:
        raise InvalidInput("emr.unknown_form", f"Không có dữ liệu cho biểu mẫu {form_code}.",
                           f"No EMR data mapping for form {form_code}.")
    return {k: v for k, v in builder(_Ctx(session, encounter_id)).items() if v is not None}


def _with_doctor_and_head(c: Any, d: dict[str, Any]) -> dict[str, Any]:
    """``d`` with the signers of a record: the attending doctor, the head of the
    encounter's department (when there is one) and the signing date."""
    d["doctor"] = _person(c.attending())
    head = _person(c.staff("head_of_department", c.enc.department_id))
    if head:
        d["head_of_department"] = head
    d["signed_at"] = _signed_at()
    return d
