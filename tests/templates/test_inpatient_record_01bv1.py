"""Bệnh án nội khoa (01/BV1): what is specific to this form. The catalogue-wide tests
(PDF/A, fonts, NFC text, data.json, layout cache, signature policy) cover it as well."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path

import pikepdf
import pytest

from core.errors import InvalidInput
from templates.render import render_form, sample_data
from tests.signer.conftest import signer_pki  # noqa: F401 - the test PKI (fixture)

CODE = "inpatient_record_01bv1"


def _errors(data: dict) -> dict[str, dict]:
    with pytest.raises(InvalidInput) as exc:
        render_form(CODE, data, document_id="D1", verify_url="http://x/v")
    assert exc.value.code == "form.invalid_data"
    return {d["field"]: d for d in exc.value.details}


def _text(pdf: bytes, tmp_path: Path, page: int | None = None) -> str:
    """The text in content-stream (document) order, whitespace collapsed."""
    src = tmp_path / "f.pdf"
    src.write_bytes(pdf)
    pages = ["-f", str(page), "-l", str(page)] if page else []
    out = subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", *pages, str(src), "-"],
                         capture_output=True, text=True, check=True).stdout
    return " ".join(out.split())


def test_missing_admission_time_and_record_date_are_named_in_both_languages():
    data = copy.deepcopy(sample_data(CODE))
    del data["encounter"]["admission_time"]
    del data["signed_at"]
    del data["admission_diagnosis"]
    errors = _errors(data)
    assert errors["encounter.admission_time"]["message_vi"] == "Thiếu ngày giờ vào viện."
    assert errors["encounter.admission_time"]["message_en"] == (
        "The admission date and time is missing.")
    assert errors["signed_at"]["message_vi"] == "Thiếu ngày bác sĩ làm bệnh án."
    assert "date the doctor wrote" in errors["signed_at"]["message_en"]
    assert errors["admission_diagnosis"]["message_en"] == "Required field is missing."


def test_wrong_icd10_codes_are_reported_in_every_diagnosis_slot():
    data = copy.deepcopy(sample_data(CODE))
    data["admission_diagnosis"]["code"] = "J18,9"
    data["referral_diagnosis"]["code"] = "j22"
    data["secondary_diagnoses"][0]["code"] = "110"
    data["outcome"]["death"] = {"at": "2026-11-17T09:30", "main_cause": {"code": "U07",
                                                                          "name": "?"}}
    errors = _errors(data)
    for field in ("admission_diagnosis.code", "referral_diagnosis.code",
                  "secondary_diagnoses[0].code", "outcome.death.main_cause.code"):
        assert errors[field]["message_vi"] == "Mã ICD-10 không hợp lệ (ví dụ K35.8).", field
        assert errors[field]["message_en"] == "Invalid ICD-10 code (e.g. K35.8).", field


def test_tick_boxes_and_vital_signs_are_checked():
    data = copy.deepcopy(sample_data(CODE))
    data["management"]["admission_route"] = "er"
    data["outcome"]["result"] = "dead"
    data["examination"]["vitals"].update(pulse=400, blood_pressure="140-85")
    data["risk_factors"][0]["kind"] = "coffee"
    errors = _errors(data)
    assert "KKB" in errors["management.admission_route"]["message_vi"]
    assert "outpatient_clinic" in errors["management.admission_route"]["message_en"]
    assert "Tử vong" not in errors["outcome.result"]["message_en"]
    assert "tử vong" in errors["outcome.result"]["message_vi"]
    assert errors["examination.vitals.pulse"]["message_vi"] == "Mạch phải từ 20 đến 250 lần/phút."
    assert errors["examination.vitals.blood_pressure"]["message_en"] == "Blood pressure as 120/80."
    assert "thuốc lào" in errors["risk_factors[0].kind"]["message_vi"]


def test_sample_prints_the_paper_form(rendered_forms, tmp_path: Path):
    r = rendered_forms[CODE]
    cover, part_a = _text(r.pdf, tmp_path, 1), _text(r.pdf, tmp_path, 2)
    for expected in ("MS: 01/BV1", "Số lưu trữ: NT-2026-12408", "Mã YT: 72/001/26/05107",
                     "Giường: 07A", "I. HÀNH CHÍNH", "Tuổi: 65", "1. Nam X 2. Nữ",
                     "1. BHYT X", "Số thẻ BHYT: HT3727201234567", "II. QUẢN LÝ NGƯỜI BỆNH",
                     "12. Vào viện: 07:40 ngày 10/11/2026", "2. KKB X",
                     "18. Ra viện: 09:30 ngày 17/11/2026", "19. Tổng số ngày điều trị: 7",
                     "III. CHẨN ĐOÁN", "Mã: J22", "Mã: J18.9", "Mã: I10",
                     "IV. TÌNH TRẠNG RA VIỆN", "1. Khỏi X", "ngày 17 tháng 11 năm 2026",
                     "TRƯỞNG KHOA", "BS.CKII Phan Thị Ngọc Diệp"):
        assert expected in cover, expected
    assert "A. BỆNH ÁN" not in cover  # part A starts on a page of its own
    assert part_a.startswith("A. BỆNH ÁN I. LÝ DO VÀO VIỆN")
    rest = _text(r.pdf, tmp_path)
    for expected in ("I. LÝ DO VÀO VIỆN", "Vào ngày thứ 4 của bệnh", "1. Quá trình bệnh lý:",
                     "04. Thuốc lá X 360 tháng", "Mạch: 104 lần/ph", "Nhiệt độ: 38,6 °C",
                     "Huyết áp: 140/85 mmHg", "Nhịp thở: 24 lần/ph", "Cân nặng: 58 kg",
                     "+ Hô hấp:", "4. Tóm tắt bệnh án:", "IV. CHẨN ĐOÁN KHI VÀO KHOA ĐIỀU TRỊ",
                     "+ Phân biệt: Lao phổi", "V. TIÊN LƯỢNG", "VI. HƯỚNG ĐIỀU TRỊ",
                     "ngày 10 tháng 11 năm 2026", "BÁC SĨ LÀM BỆNH ÁN",
                     "BS.CKI Huỳnh Thanh Tùng"):
        assert expected in rest, expected
    fields = {f.name: f.page for f in r.signature_fields}
    assert fields == {"head_of_department": 0, "doctor": 2}


def test_minimal_record_keeps_both_fields_and_blank_lines(tmp_path: Path):
    """Only what the schema requires (no head named, no discharge yet): both signature
    fields are still laid out; unknown times print as dotted blanks; a baby's age in months."""
    full = sample_data(CODE)
    data = {k: copy.deepcopy(full[k]) for k in ("facility", "patient", "admission_diagnosis",
                                                 "reason", "doctor", "signed_at")}
    data["patient"]["dob"] = "2026-05-01"
    data["encounter"] = {"admission_time": "2026-11-10T07:40"}
    r = render_form(CODE, data, document_id="D-MIN", verify_url="http://x/v")
    assert {f.name for f in r.signature_fields} == {"doctor", "head_of_department"}
    text = _text(r.pdf, tmp_path)
    assert "Tuổi: 6 tháng" in text
    assert "18. Ra viện: …… giờ …… ngày ……/……/……" in text
    assert "16. Chuyển khoa: —" in text
    assert "Phan Thị Ngọc Diệp" not in text


def test_transfers_death_and_referral_out_are_printed(tmp_path: Path):
    data = copy.deepcopy(sample_data(CODE))
    data["management"].update(
        transfers=[{"department": "Khoa Hồi sức tích cực - Chống độc",
                    "at": "2026-11-12T22:10", "days": 3}],
        transfer_out={"level": "higher", "to": "Bệnh viện Chợ Rẫy"}, discharge_kind="taken_home")
    data["outcome"] = {"result": "died", "death": {
        "at": "2026-11-17T05:20", "cause_kind": "disease", "within_24h": False,
        "main_cause": {"code": "A41.9", "name": "Nhiễm khuẩn huyết, không đặc hiệu"}}}
    data["adverse_event"] = {"kind": "complication", "description": "Sốc nhiễm khuẩn"}
    r = render_form(CODE, data, document_id="D-DEATH", verify_url="http://x/v")
    text = _text(r.pdf, tmp_path, 1)
    transfer = ("16. Chuyển khoa: Khoa Hồi sức tích cực - Chống độc 22:10 ngày 12/11/2026"
                " · Số ngày ĐTr: 3")
    for expected in (transfer,
                     "1. Tuyến trên X", "Chuyển đến: Bệnh viện Chợ Rẫy", "4. Đưa về X",
                     "+ Biến chứng X Sốc nhiễm khuẩn", "5. Tử vong X",
                     "05:20 ngày 17/11/2026", "1. Do bệnh X", "Sau 24 giờ vào viện X",
                     "Nhiễm khuẩn huyết, không đặc hiệu · Mã: A41.9"):
        assert expected in text, expected
    assert "Trong 24 giờ vào viện X" not in text


def test_doctor_certifies_on_part_a_then_head_signs_the_cover(
        rendered_forms, signer_pki, tmp_path: Path):  # noqa: F811 - the fixture imported above
    """The two fields sit on different pages (cover page 1, part A page 3): the doctor's
    certifying signature, then the head of department's, both valid, still PDF/A-3b."""
    from signer.request import SignRequest
    from signer.sign import sign_pdf
    from templates.pdfa import check_pdfa
    from tests.signer import checks

    doc = sign_pdf(rendered_forms[CODE].pdf,
                   SignRequest("doctor", "Huỳnh Thanh Tùng", role="Bác sĩ làm bệnh án",
                               level="B-B", certify=True),
                   signer=signer_pki.signer("doctor-rsa"))
    doc = sign_pdf(doc, SignRequest("head_of_department", "Phan Thị Ngọc Diệp",
                                    role="Trưởng khoa", level="B-B"),
                   signer=signer_pki.signer("doctor-ec"))
    report = check_pdfa(doc)
    assert report.verdict == "PASS", report.failures
    path = tmp_path / "signed.pdf"
    path.write_bytes(doc)
    checks.assert_pdfsig_valid(path, 2)
    with pikepdf.open(path) as pdf:
        pages = {a.T: i for i, page in enumerate(pdf.pages) for a in page.get("/Annots", [])
                 if a.get("/FT") == "/Sig"}
        assert pages == {"doctor": 2, "head_of_department": 0}
        assert all(a.V.Type == "/Sig" for p in pdf.pages for a in p.get("/Annots", [])
                   if a.get("/FT") == "/Sig")
