"""Demo data: a hospital in Tây Ninh with two departments, clinicians and two patients.

``seed_demo(session)`` is idempotent (fixed ids derived from the tenant) and
returns the ids. Every person is fictitious; the identifiers are well-formed
but invented. Addresses use the two-level units in force since 1 July 2025.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from emr import models as m


@dataclass(frozen=True)
class DemoIds:
    tenant_id: str
    hospital_id: str
    department_ids: dict[str, str]
    practitioner_ids: dict[str, str]
    patient_ids: tuple[str, ...]
    encounter_ids: tuple[str, ...]
    created: bool
    """False when the demo data was already there."""


def _t(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    """A Vietnam local time, as UTC."""
    return datetime(y, mo, d, h, mi, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")).astimezone(UTC)


def seed_demo(session: Session, tenant_id: str = "70001") -> DemoIds:
    """Insert the demo hospital unless present; the caller commits."""
    p = f"demo-{tenant_id}"
    ids = DemoIds(
        tenant_id=tenant_id, hospital_id=f"{p}-org",
        department_ids={"surgery": f"{p}-dept-surgery", "internal": f"{p}-dept-internal"},
        practitioner_ids={"doctor": f"{p}-pr-huy", "head_of_department": f"{p}-pr-duc",
                          "nurse": f"{p}-pr-lan", "cashier": f"{p}-pr-mai"},
        patient_ids=(f"{p}-pt-nhung", f"{p}-pt-tam"),
        encounter_ids=(f"{p}-enc-nhung-ip", f"{p}-enc-tam-op"),
        created=True,
    )
    if session.get(m.Organization, ids.hospital_id) is not None:
        return DemoIds(**{**ids.__dict__, "created": False})
    dept_s, dept_i = ids.department_ids["surgery"], ids.department_ids["internal"]
    pr = ids.practitioner_ids
    session.add(m.Organization(id=ids.hospital_id, tenant_id=tenant_id, kind="hospital",
                               code=tenant_id, name="Bệnh viện Đa khoa Demo Tây Ninh",
                               province="Tây Ninh", ward="Phường Tân Ninh",
                               address_line="Số 1 đường 30 Tháng 4", phone="02763822000"))
    session.flush()
    session.add_all([
        m.Organization(id=dept_s, tenant_id=tenant_id, kind="department", code="K19",
                       name="Khoa Ngoại tổng hợp", part_of_id=ids.hospital_id),
        m.Organization(id=dept_i, tenant_id=tenant_id, kind="department", code="K03",
                       name="Khoa Nội tổng hợp", part_of_id=ids.hospital_id),
        m.Practitioner(id=pr["doctor"], tenant_id=tenant_id, name="Trần Quốc Huy",
                       title="BS.CKI", licence_number="000123/TN-CCHN", gender="male"),
        m.Practitioner(id=pr["head_of_department"], tenant_id=tenant_id, name="Lê Minh Đức",
                       title="BS.CKII", licence_number="000098/TN-CCHN", gender="male"),
        m.Practitioner(id=pr["nurse"], tenant_id=tenant_id, name="Phạm Thị Lan",
                       title="CN.ĐD", licence_number="000456/TN-CCHN", gender="female"),
        m.Practitioner(id=pr["cashier"], tenant_id=tenant_id, name="Võ Thị Mai",
                       title="CN.KT", gender="female"),
    ])
    session.flush()
    session.add_all([
        m.PractitionerRole(id=f"{p}-role-huy", practitioner_id=pr["doctor"],
                           organization_id=dept_s, role="doctor", specialty="Ngoại khoa"),
        m.PractitionerRole(id=f"{p}-role-huy-int", practitioner_id=pr["doctor"],
                           organization_id=dept_i, role="doctor", specialty="Ngoại khoa"),
        m.PractitionerRole(id=f"{p}-role-duc", practitioner_id=pr["head_of_department"],
                           organization_id=dept_s, role="head_of_department",
                           specialty="Ngoại khoa"),
        m.PractitionerRole(id=f"{p}-role-lan", practitioner_id=pr["nurse"],
                           organization_id=dept_s, role="nurse"),
        m.PractitionerRole(id=f"{p}-role-lan-tech", practitioner_id=pr["nurse"],
                           organization_id=dept_s, role="technician"),
        m.PractitionerRole(id=f"{p}-role-mai", practitioner_id=pr["cashier"],
                           organization_id=ids.hospital_id, role="cashier"),
    ])
    nhung, tam = ids.patient_ids
    session.add_all([
        m.Patient(id=nhung, tenant_id=tenant_id, patient_code="BN2026-004512",
                  cccd="072187001234", bhyt_card="DN4727212345678",
                  bhyt_valid_from=date(2026, 1, 1), bhyt_valid_to=date(2026, 12, 31),
                  name="Nguyễn Thị Hồng Nhung", birth_date=date(1987, 4, 12), gender="female",
                  ethnicity="Kinh", nationality="Việt Nam", occupation="Giáo viên",
                  province="Tây Ninh", ward="Phường Tân Ninh",
                  address_line="Số 12 đường Trưng Nữ Vương", phone="0903123456"),
        m.Patient(id=tam, tenant_id=tenant_id, patient_code="BN2026-004513",
                  cccd="072058003456", bhyt_card="HT3721234567890",
                  bhyt_valid_from=date(2026, 1, 1), bhyt_valid_to=date(2026, 12, 31),
                  name="Trần Văn Tâm", birth_date=date(1958, 9, 3), gender="male",
                  ethnicity="Kinh", nationality="Việt Nam", occupation="Hưu trí",
                  province="Tây Ninh", ward="Phường Long An",
                  address_line="Ấp Bình Lợi", phone="0918765432"),
    ])
    session.flush()
    enc_ip, enc_op = ids.encounter_ids
    session.add_all([
        m.RelatedPerson(id=f"{p}-rp-binh", patient_id=nhung, name="Nguyễn Văn Bình",
                        relationship="HUSB", cccd="072085004321", phone="0913456789",
                        address_line="Số 12 đường Trưng Nữ Vương, Phường Tân Ninh, Tây Ninh"),
        m.Encounter(id=enc_ip, tenant_id=tenant_id, patient_id=nhung, encounter_class="IMP",
                    status="finished", medical_record_no="NT-2026-11873", department_id=dept_s,
                    attending_id=pr["doctor"], admitted_at=_t(2026, 11, 2, 9, 15),
                    discharged_at=_t(2026, 11, 9, 10), reason="Đau bụng vùng hố chậu phải",
                    admission_source="emergency", discharge_disposition="home",
                    insurance_covered=True),
        m.Encounter(id=enc_op, tenant_id=tenant_id, patient_id=tam, encounter_class="AMB",
                    status="finished", medical_record_no="NG-2026-20431", department_id=dept_i,
                    attending_id=pr["doctor"], admitted_at=_t(2026, 11, 20, 8, 30),
                    discharged_at=_t(2026, 11, 20, 9, 10), reason="Đau đầu, chóng mặt",
                    insurance_covered=True),
    ])
    session.flush()
    _clinical(session, p, ids)
    session.flush()
    return ids


def _clinical(session: Session, p: str, ids: DemoIds) -> None:
    nhung, tam = ids.patient_ids
    enc_ip, enc_op = ids.encounter_ids
    pr = ids.practitioner_ids
    report = f"{p}-dr-cbc"
    session.add_all([
        m.Condition(id=f"{p}-cond-k358", patient_id=nhung, encounter_id=enc_ip, icd10="K35.8",
                    display="Viêm ruột thừa cấp, khác và không xác định", role="primary"),
        m.Condition(id=f"{p}-cond-d649", patient_id=nhung, encounter_id=enc_ip, icd10="D64.9",
                    display="Thiếu máu, không đặc hiệu", role="secondary"),
        m.Condition(id=f"{p}-cond-i10", patient_id=tam, encounter_id=enc_op, icd10="I10",
                    display="Bệnh lý tăng huyết áp vô căn (nguyên phát)", role="primary"),
        m.Procedure(id=f"{p}-proc-lap", patient_id=nhung, encounter_id=enc_ip, code="10.0421.0503",
                    display="Phẫu thuật nội soi cắt ruột thừa", anesthesia="Gây mê nội khí quản",
                    performer_id=pr["doctor"], performed_at=_t(2026, 11, 2, 14)),
        m.DiagnosticReport(id=report, patient_id=nhung, encounter_id=enc_ip, code="58410-2",
                           display="Tổng phân tích tế bào máu ngoại vi", issued_at=_t(2026, 11, 2, 10),
                           performer_id=pr["nurse"], conclusion="Bạch cầu tăng"),
    ])
    session.flush()
    for i, (code, name, value, unit, low, high, flag) in enumerate([
        ("6690-2", "Số lượng bạch cầu (WBC)", "14.2", "G/L", "4", "10", "H"),
        ("718-7", "Huyết sắc tố (HGB)", "118", "g/L", "120", "150", "L"),
        ("777-3", "Số lượng tiểu cầu (PLT)", "265", "G/L", "150", "450", None),
    ]):
        session.add(m.Observation(
            id=f"{p}-obs-{i}", patient_id=nhung, encounter_id=enc_ip, report_id=report,
            code=code, display=name, value=Decimal(value), unit=unit, reference_low=Decimal(low),
            reference_high=Decimal(high), interpretation=flag, effective_at=_t(2026, 11, 2, 9, 40)))
    session.add_all([
        m.MedicationRequest(id=f"{p}-mr-cefo", patient_id=nhung, encounter_id=enc_ip,
                            medication_code="40.183", medication_name="Cefotaxim 1g",
                            strength="1g", dosage_text="Tiêm tĩnh mạch 1 lọ x 2 lần/ngày",
                            route="IV", quantity=Decimal(10), unit="Lọ",
                            requester_id=pr["doctor"], authored_at=_t(2026, 11, 2, 15)),
        m.MedicationRequest(id=f"{p}-mr-amlo", patient_id=tam, encounter_id=enc_op,
                            medication_code="40.513", medication_name="Amlodipin 5mg",
                            strength="5mg", dosage_text="Uống 1 viên buổi sáng", route="PO",
                            quantity=Decimal(30), unit="Viên", requester_id=pr["doctor"],
                            authored_at=_t(2026, 11, 20, 9)),
    ])
    session.flush()
    session.add_all([
        m.MedicationAdministration(id=f"{p}-ma-cefo-{d}", patient_id=nhung, encounter_id=enc_ip,
                                   request_id=f"{p}-mr-cefo", dose=Decimal(1), unit="Lọ",
                                   performer_id=pr["nurse"], administered_at=_t(2026, 11, d, 8))
        for d in (3, 4, 5)
    ])
    for i, (cat, code, name, unit, qty, price, ins) in enumerate([
        ("exam", "02.1896", "Khám Ngoại", "Lần", "1", "39000", "39000"),
        ("bed", "K19.1900", "Giường Ngoại khoa loại 1", "Ngày", "7", "250000", "1750000"),
        ("service", "10.0421.0503", "Phẫu thuật nội soi cắt ruột thừa", "Lần", "1",
         "3500000", "2800000"),
        ("drug", "40.183", "Cefotaxim 1g", "Lọ", "10", "18000", "144000"),
        ("lab", "22.0120.1370", "Tổng phân tích tế bào máu ngoại vi", "Lần", "1", "46000",
         "36800"),
    ]):
        total = Decimal(qty) * Decimal(price)
        session.add(m.ChargeItem(id=f"{p}-ci-{i}", patient_id=nhung, encounter_id=enc_ip,
                                 category=cat, code=code, display=name, unit=unit,
                                 quantity=Decimal(qty), unit_price=Decimal(price),
                                 insurance_paid=Decimal(ins), patient_paid=total - Decimal(ins)))
