"""Values the XML 130 tables are built from (one inpatient or outpatient encounter).

Amounts are ``Decimal`` in VND; times are ``datetime`` in Asia/Ho_Chi_Minh wall
time, written as ``yyyyMMddHHmm`` per the format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal


@dataclass(frozen=True)
class ClaimPatient:
    patient_code: str
    """MA_BN: the hospital's patient number."""
    full_name: str
    citizen_id: str
    """SO_CCCD: số định danh cá nhân, 12 digits."""
    dob: date
    sex: int
    """GIOI_TINH: 1 nam, 2 nữ, 3 chưa xác định."""
    address: str
    province_code: str
    """MATINH_CU_TRU (two-level administrative units since 1 July 2025)."""
    commune_code: str
    """MAXA_CU_TRU."""
    insurance_card: str
    """MA_THE_BHYT, 15 characters."""
    insurance_registered_facility: str
    """MA_DKBD: initial registered facility (5 characters)."""
    card_valid_from: date
    card_valid_to: date
    nationality: str = "000"
    ethnicity: str = "01"
    occupation: str = "00000"
    phone: str = ""


@dataclass(frozen=True)
class DrugLine:
    drug_code: str
    """MA_THUOC (national drug code list)."""
    name: str
    unit: str
    strength: str
    route: str
    """DUONG_DUNG code."""
    dosage: str
    registration_no: str
    group_code: int
    """MA_NHOM: 4 thuốc trong danh mục, 6 thuốc thanh toán theo tỷ lệ..."""
    quantity: Decimal
    unit_price: Decimal
    insurance_rate: int
    """TYLE_TT_BH, percent."""
    benefit_level: int
    """MUC_HUONG, percent (80, 95, 100)."""
    department_code: str
    doctor_code: str
    ordered_at: datetime
    given_at: datetime
    bid_info: str = ""
    """TT_THAU: decision;package;group;year."""


@dataclass(frozen=True)
class ServiceLine:
    service_code: str
    """MA_DICH_VU (or MA_VAT_TU for a supply)."""
    name: str
    unit: str
    group_code: int
    quantity: Decimal
    unit_price: Decimal
    insurance_rate: int
    benefit_level: int
    department_code: str
    doctor_code: str
    ordered_at: datetime
    performed_at: datetime
    result_at: datetime | None = None
    is_supply: bool = False
    disease_code: str = ""


@dataclass(frozen=True)
class LabResultLine:
    service_code: str
    indicator_code: str
    indicator_name: str
    value: str
    unit: str
    reported_at: datetime
    reading_doctor_code: str
    conclusion: str = ""
    description: str = ""


@dataclass(frozen=True)
class ProgressNote:
    """One XML5 entry: the clinical course at a point in time."""

    course: str
    at: datetime
    performed_by: str
    stage: str = ""
    consultation: str = ""
    surgery: str = ""


@dataclass(frozen=True)
class ClaimEncounter:
    link_code: str
    """MA_LK: unique id of the claim within the facility."""
    facility_code: str
    """MA_CSKCB (5 characters)."""
    patient: ClaimPatient
    admitted_at: datetime
    discharged_at: datetime
    visit_type: str
    """MA_LOAI_KCB: 01 khám bệnh, 02 điều trị ngoại trú, 03 điều trị nội trú..."""
    department_code: str
    reason: str
    admission_diagnosis: str
    discharge_diagnosis: str
    main_icd10: str
    secondary_icd10: tuple[str, ...] = ()
    treatment_result: int = 1
    """KET_QUA_DTRI: 1 khỏi, 2 đỡ, 3 không thay đổi, 4 nặng hơn, 5 tử vong..."""
    discharge_type: int = 1
    """MA_LOAI_RV: 1 ra viện, 2 chuyển tuyến, 3 trốn viện, 4 xin ra viện."""
    beneficiary_type: str = "1.1"
    """MA_DOITUONG_KCB."""
    record_number: str = ""
    """MA_HSBA."""
    head_of_facility_code: str = ""
    """MA_TTDV: the head of the facility (signing the claim)."""
    settled_at: datetime | None = None
    weight_kg: str = ""
    drugs: tuple[DrugLine, ...] = ()
    services: tuple[ServiceLine, ...] = ()
    lab_results: tuple[LabResultLine, ...] = ()
    progress_notes: tuple[ProgressNote, ...] = field(default_factory=tuple)
