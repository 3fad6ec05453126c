"""A realistic sample encounter (Tây Ninh, inpatient, appendicitis) for demos and tests."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from insurance.model import (
    ClaimEncounter,
    ClaimPatient,
    DrugLine,
    LabResultLine,
    ProgressNote,
    ServiceLine,
)


def sample_encounter(link_code: str = "70001-2026-000123") -> ClaimEncounter:
    patient = ClaimPatient(
        patient_code="BN000123", full_name="Trần Thị Bích Ngọc", citizen_id="072185001234",
        dob=date(1985, 4, 12), sex=2, address="Số 12 đường 30/4, phường Tân Ninh, tỉnh Tây Ninh",
        province_code="72", commune_code="25459", insurance_card="GD4727220012345",
        insurance_registered_facility="72001", card_valid_from=date(2026, 1, 1),
        card_valid_to=date(2026, 12, 31), phone="0912345678",
    )
    t0 = datetime(2026, 11, 20, 8, 15)
    return ClaimEncounter(
        link_code=link_code, facility_code="72001", patient=patient,
        admitted_at=t0, discharged_at=datetime(2026, 11, 24, 9, 30), visit_type="03",
        department_code="K19", reason="Đau hố chậu phải", admission_diagnosis="Viêm ruột thừa cấp",
        discharge_diagnosis="Viêm ruột thừa cấp đã phẫu thuật", main_icd10="K35.8",
        secondary_icd10=("E11.9",), record_number="HSBA-2026-0123", head_of_facility_code="GD001",
        weight_kg="52",
        drugs=(
            DrugLine("40.1", "Ceftriaxone 1g", "Lọ", "1g", "2.15", "1 lọ x 2 lần/ngày",
                     "VD-12345-20", 4, Decimal(8), Decimal(15500), 100, 80, "K19", "BS0001",
                     datetime(2026, 11, 20, 9, 0), datetime(2026, 11, 20, 9, 30),
                     "QĐ123/2025;G1;N1;2025"),
            DrugLine("40.2", "Paracetamol 500mg", "Viên", "500mg", "1.01", "1 viên khi sốt",
                     "VD-67890-21", 4, Decimal(10), Decimal(350), 100, 80, "K19", "BS0001",
                     datetime(2026, 11, 21, 8, 0), datetime(2026, 11, 21, 8, 10)),
        ),
        services=(
            ServiceLine("10.0452.0453", "Phẫu thuật nội soi cắt ruột thừa", "Lần", 8, Decimal(1),
                        Decimal(3250000), 100, 80, "K19", "BS0001",
                        datetime(2026, 11, 20, 10, 0), datetime(2026, 11, 20, 13, 0)),
            ServiceLine("22.0120.1370", "Tổng phân tích tế bào máu ngoại vi", "Lần", 1, Decimal(1),
                        Decimal(46200), 100, 80, "K19", "BS0001",
                        datetime(2026, 11, 20, 8, 30), datetime(2026, 11, 20, 8, 45),
                        result_at=datetime(2026, 11, 20, 9, 10)),
            ServiceLine("N03.04.020", "Kim luồn tĩnh mạch", "Cái", 10, Decimal(2), Decimal(12000),
                        100, 80, "K19", "BS0001", datetime(2026, 11, 20, 8, 30),
                        datetime(2026, 11, 20, 8, 40), is_supply=True),
        ),
        lab_results=(
            LabResultLine("22.0120.1370", "WBC", "Số lượng bạch cầu", "14.2", "G/L",
                          datetime(2026, 11, 20, 9, 10), "BS0002", conclusion="Tăng"),
        ),
        progress_notes=(
            ProgressNote("Đau hố chậu phải, sốt 38,5°C; chỉ định mổ nội soi.",
                         datetime(2026, 11, 20, 9, 0), "BS0001", surgery="Cắt ruột thừa nội soi"),
            ProgressNote("Hậu phẫu ngày 3, ổn định, cho ra viện.",
                         datetime(2026, 11, 23, 8, 0), "BS0001"),
        ),
    )
