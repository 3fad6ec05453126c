"""A patient's record as ``HoSoBenhAn`` (CV 365/TTYQG-GPQLCL) JSON and XML, with the
signed PDFs alongside.

Element names follow the upper-case Vietnamese style of the Ministry's data
exchange tables (QĐ 130/QĐ-BYT, QĐ 4750/QĐ-BYT): times ``yyyyMMddHHmm`` in
Vietnam time, dates ``yyyyMMdd``. Every export is checked against
``insurance/xsd/hosobenhan.xsd`` (written for hsba: the official CV 365 text and
schema could not be obtained; its annotation lists what it was written from and
which names are unconfirmed) and against the identifier rules of
``emr.identifiers``; bad data raises ``InvalidInput`` with one error per field
and nothing is produced. The XML is unsigned; ``signer.xml`` signs it (signature
appended to the root). Each attached PDF is read through a caller-supplied
``fetch_pdf`` (e.g. :func:`archive_fetcher`) and its sha256 is checked against
the DocumentReference before it is included.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import ArchiveError, InvalidInput, NotFound
from emr import models as m
from emr.identifiers import validate_bhyt, validate_cccd
from insurance.fields import GROUP_BY_CATEGORY
from insurance.schema import field_error, xsd_errors

VN = ZoneInfo("Asia/Ho_Chi_Minh")
FORMAT_VERSION = "1.0"
XSD_NAME = "hosobenhan.xsd"
# EMR codes -> the export's code lists (an unknown code is passed through, so the XSD
# reports it against the field instead of it being silently replaced).
LOAI_KCB = {"AMB": "NGOAI_TRU", "IMP": "NOI_TRU", "EMER": "CAP_CUU"}
LOAI_BENH = {"primary": "CHINH", "secondary": "KEM_THEO", "admission": "VAO_VIEN",
             "discharge": "RA_VIEN"}
TINH_TRANG_RA = {"home": "RA_VIEN", "transfer": "CHUYEN_VIEN", "against-advice": "XIN_RA_VIEN",
                 "escaped": "TRON_VIEN", "expired": "TU_VONG", "other": "KHAC"}
HOAT_DONG = {"sign": "KY", "seal": "DONG_DAU", "timestamp": "DAU_THOI_GIAN"}
RECORD_LABELS = {
    "MA_CSKCB": "Mã cơ sở KCB", "NGAY_XUAT": "Ngày xuất", "MA_BN": "Mã người bệnh",
    "HO_TEN": "Họ và tên", "NGAY_SINH": "Ngày sinh", "GIOI_TINH": "Giới tính",
    "SO_CCCD": "Số định danh cá nhân", "MA_THE_BHYT": "Mã thẻ BHYT",
    "GT_THE_TU": "Giá trị thẻ từ", "GT_THE_DEN": "Giá trị thẻ đến", "DIEN_THOAI": "Điện thoại",
    "MA_LK": "Mã đợt điều trị", "LOAI_KCB": "Loại khám chữa bệnh", "NGAY_VAO": "Ngày giờ vào",
    "NGAY_RA": "Ngày giờ ra", "TINH_TRANG_RA": "Tình trạng ra viện", "MA_BENH": "Mã bệnh ICD-10",
    "TEN_BENH": "Tên bệnh", "LOAI": "Loại chẩn đoán", "MA_DVKT": "Mã dịch vụ kỹ thuật",
    "NGAY_THUC_HIEN": "Ngày thực hiện", "MA_CHI_SO": "Mã chỉ số", "DANH_GIA": "Đánh giá",
    "NGAY_KQ": "Ngày kết quả", "TEN_THUOC": "Tên thuốc", "SO_LUONG": "Số lượng",
    "DON_VI_TINH": "Đơn vị tính", "LIEU_DUNG": "Liều dùng", "NGAY_YL": "Ngày y lệnh",
    "MA_NHOM": "Mã nhóm chi phí", "DON_GIA": "Đơn giá", "SHA256": "Mã băm SHA-256",
    "HOAT_DONG": "Hoạt động ký", "MUC_PADES": "Mức chữ ký PAdES", "THOI_GIAN": "Thời gian",
}
_DATES = {"NGAY_SINH", "GT_THE_TU", "GT_THE_DEN"}
_TIMES = {"NGAY_XUAT", "NGAY_VAO", "NGAY_RA", "NGAY_THUC_HIEN", "NGAY_KQ", "NGAY_YL", "NGAY_TAO",
          "THOI_GIAN"}
FetchPdf = Callable[[str, int], bytes]


@dataclass(frozen=True)
class ExportedRecord:
    record: dict[str, Any]
    """The ``HoSoBenhAn`` object (JSON-ready)."""
    xml: bytes
    files: dict[str, bytes] = field(default_factory=dict)
    """Relative file name (``TAILIEU/...pdf``) → signed PDF bytes."""

    def write(self, out_dir: Path) -> list[Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        written = [out_dir / "HoSoBenhAn.json", out_dir / "HoSoBenhAn.xml"]
        written[0].write_text(json.dumps({"HoSoBenhAn": self.record}, ensure_ascii=False,
                                         indent=2))
        written[1].write_bytes(self.xml)
        for name, data in self.files.items():
            path = out_dir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            written.append(path)
        return written


def _t(dt: datetime | None) -> str | None:
    return dt.astimezone(VN).strftime("%Y%m%d%H%M") if dt else None


def _d(d: date | None) -> str | None:
    return d.strftime("%Y%m%d") if d else None


def _n(v: Decimal | None) -> str | None:
    if v is None:
        return None
    return str(int(v)) if v == v.to_integral_value() else format(v.normalize(), "f")


def _rows(s: Session, model: Any, encounter_id: str) -> list[Any]:
    return list(s.execute(select(model).where(model.encounter_id == encounter_id)
                          .order_by(model.id)).scalars())


def _documents(s: Session, enc: m.Encounter, fetch_pdf: FetchPdf | None,
               files: dict[str, bytes]) -> list[dict[str, Any]]:
    out = []
    for ref in _rows(s, m.DocumentReference, enc.id):
        name = f"TAILIEU/{ref.archive_document_id}_v{ref.version}.pdf"
        if fetch_pdf is not None:
            data = fetch_pdf(ref.archive_document_id, ref.version)
            if hashlib.sha256(data).hexdigest() != ref.sha256:
                raise ArchiveError("emr.export_checksum",
                                   "Tệp PDF đã ký không khớp mã băm trong hồ sơ.",
                                   "Signed PDF does not match the sha256 on record.",
                                   details={"document_id": ref.archive_document_id})
            files[name] = data
        sigs = list(s.execute(select(m.Provenance).where(
            m.Provenance.document_reference_id == ref.id).order_by(m.Provenance.recorded_at))
            .scalars())
        out.append({
            "MA_TAI_LIEU": ref.archive_document_id, "MA_BIEU_MAU": ref.form_code,
            "PHIEN_BAN": ref.version, "TEN_TEP": name, "SHA256": ref.sha256,
            "NGAY_TAO": _t(ref.created_at),
            "CHU_KY": [{"VAI_TRO": p.agent_role, "HOAT_DONG": HOAT_DONG.get(p.activity, p.activity),
                        "PHUONG_THUC": p.method, "MUC_PADES": p.level,
                        "MA_NGUOI_KY": p.agent_practitioner_id or p.agent_related_person_id,
                        "THOI_GIAN": _t(p.recorded_at)} for p in sigs],
        })
    return out


def _encounter(s: Session, enc: m.Encounter, fetch_pdf: FetchPdf | None,
               files: dict[str, bytes]) -> dict[str, Any]:
    dept = s.get(m.Organization, enc.department_id) if enc.department_id else None
    attending = s.get(m.Practitioner, enc.attending_id) if enc.attending_id else None
    return {
        "MA_LK": enc.id, "SO_LUU_TRU": enc.medical_record_no,
        "LOAI_KCB": LOAI_KCB.get(enc.encounter_class, enc.encounter_class),
        "MA_KHOA": dept.code if dept else None,
        "TEN_KHOA": dept.name if dept else None, "NGAY_VAO": _t(enc.admitted_at),
        "NGAY_RA": _t(enc.discharged_at), "LY_DO_VV": enc.reason,
        "TINH_TRANG_RA": (TINH_TRANG_RA.get(enc.discharge_disposition, enc.discharge_disposition)
                          if enc.discharge_disposition else None),
        "BAC_SI_DIEU_TRI": ({"HO_TEN": attending.name, "SO_CCHN": attending.licence_number}
                            if attending else None),
        "CHAN_DOAN": [{"MA_BENH": c.icd10, "TEN_BENH": c.display,
                       "LOAI": LOAI_BENH.get(c.role, c.role)}
                      for c in sorted(_rows(s, m.Condition, enc.id),
                                      key=lambda c: (c.role != "primary", c.id))],
        "PHAU_THUAT_THU_THUAT": [{"MA_DVKT": p.code, "TEN_DVKT": p.display,
                                  "PHUONG_PHAP_VO_CAM": p.anesthesia,
                                  "NGAY_THUC_HIEN": _t(p.performed_at)}
                                 for p in _rows(s, m.Procedure, enc.id)],
        "XET_NGHIEM": [{"MA_CHI_SO": o.code, "TEN_CHI_SO": o.display,
                        "GIA_TRI": _n(o.value) or o.value_text, "DON_VI": o.unit,
                        "CS_THAP": _n(o.reference_low), "CS_CAO": _n(o.reference_high),
                        "DANH_GIA": o.interpretation, "NGAY_KQ": _t(o.effective_at)}
                       for o in _rows(s, m.Observation, enc.id)],
        "THUOC": [{"MA_THUOC": r.medication_code, "TEN_THUOC": r.medication_name,
                   "HAM_LUONG": r.strength, "SO_LUONG": _n(r.quantity), "DON_VI_TINH": r.unit,
                   "DUONG_DUNG": r.route, "LIEU_DUNG": r.dosage_text, "NGAY_YL": _t(r.authored_at)}
                  for r in _rows(s, m.MedicationRequest, enc.id)],
        "CHI_PHI": [{"MA_NHOM": GROUP_BY_CATEGORY.get(c.category, c.category), "MA": c.code, "TEN": c.display, "DON_VI_TINH": c.unit,
                     "SO_LUONG": _n(c.quantity), "DON_GIA": _n(c.unit_price),
                     "BHYT_TT": _n(c.insurance_paid), "BN_TT": _n(c.patient_paid)}
                    for c in _rows(s, m.ChargeItem, enc.id)],
        "TAI_LIEU": _documents(s, enc, fetch_pdf, files),
    }


def export_patient_record(session: Session, patient_id: str, *,
                          fetch_pdf: FetchPdf | None = None,
                          now: datetime | None = None) -> ExportedRecord:
    """The whole record of a patient (every encounter), with its signed PDFs."""
    p = session.get(m.Patient, patient_id)
    if p is None:
        raise NotFound("emr.patient_not_found", "Không tìm thấy người bệnh.", "Patient not found.")
    hospital = session.execute(select(m.Organization).where(
        m.Organization.tenant_id == p.tenant_id, m.Organization.kind == "hospital")).scalar()
    files: dict[str, bytes] = {}
    encounters = session.execute(select(m.Encounter).where(m.Encounter.patient_id == p.id)
                                 .order_by(m.Encounter.admitted_at)).scalars()
    record = {
        "THONG_TIN_CHUNG": {"MA_CSKCB": hospital.code if hospital else p.tenant_id,
                            "TEN_CSKCB": hospital.name if hospital else None,
                            "NGAY_XUAT": _t(now or datetime.now(UTC)),
                            "PHIEN_BAN": FORMAT_VERSION},
        "THONG_TIN_HANH_CHINH": {
            "MA_BN": p.patient_code, "HO_TEN": p.name, "NGAY_SINH": _d(p.birth_date),
            "GIOI_TINH": {"male": 1, "female": 2}.get(p.gender, 3), "SO_CCCD": p.cccd,
            "MA_THE_BHYT": p.bhyt_card, "GT_THE_TU": _d(p.bhyt_valid_from),
            "GT_THE_DEN": _d(p.bhyt_valid_to), "DAN_TOC": p.ethnicity,
            "NGHE_NGHIEP": p.occupation, "QUOC_TICH": p.nationality, "TINH_THANH": p.province,
            "XA_PHUONG": p.ward, "DIA_CHI": p.address_line, "DIEN_THOAI": p.phone},
        "DOT_DIEU_TRI": [_encounter(session, e, fetch_pdf, files) for e in encounters],
    }
    xml = to_xml(record)
    errors = record_errors(xml)
    if errors:
        raise InvalidInput("hosobenhan.invalid",
                           "Dữ liệu hồ sơ bệnh án không hợp lệ; chưa xuất tệp nào.",
                           "The patient record data is invalid; nothing was exported.",
                           details=errors)
    return ExportedRecord(record, xml, files)


_ITEM = {"DOT_DIEU_TRI": "DOT", "CHAN_DOAN": "BENH", "PHAU_THUAT_THU_THUAT": "DVKT",
         "XET_NGHIEM": "CHI_SO", "THUOC": "CHI_TIET_THUOC", "CHI_PHI": "CHI_TIET_CHI_PHI",
         "TAI_LIEU": "TEP", "CHU_KY": "CHU_KY_SO"}


def _fill(parent: Any, key: str, value: Any) -> None:
    if value is None or value == "":
        return
    el = etree.SubElement(parent, key)
    if isinstance(value, dict):
        for k, v in value.items():
            _fill(el, k, v)
    elif isinstance(value, list):
        for item in value:
            _fill(el, _ITEM.get(key, "MUC"), item)
    else:
        el.text = str(value)


def to_xml(record: dict[str, Any]) -> bytes:
    root = etree.Element("HoSoBenhAn")
    for k, v in record.items():
        _fill(root, k, v)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def archive_fetcher(index: Any, store: Any) -> FetchPdf:
    """``fetch_pdf`` reading a version's object through ``archive`` (sha256 checked there too)."""
    def fetch(document_id: str, version: int) -> bytes:
        for v in index.versions(document_id):
            if v.n == version:
                return bytes(store.get(v.object_key))
        raise NotFound("emr.export_missing_pdf", "Không tìm thấy tệp PDF đã lưu trữ.",
                       "Archived PDF not found.", details={"document_id": document_id})
    return fetch


def _when(text: str | None, fmt: str) -> datetime | None:
    try:
        return datetime.strptime(text or "", fmt)
    except ValueError:
        return None


def _rule_errors(root: Any) -> list[dict[str, str]]:
    """What the XSD cannot say: real calendar dates, identifier rules, order of dates."""
    tree = root.getroottree()
    out: list[dict[str, str]] = []

    def bad(el: Any, kind: str, vi: str = "", en: str = "") -> None:
        path = tree.getpath(el)
        out.append(field_error("/".join(path.split("/")[2:]), "HoSoBenhAn", el.tag,
                               RECORD_LABELS.get(el.tag, ""), kind, path=path,
                               line=el.sourceline or "", hint_vi=vi, hint_en=en))

    for el in root.iter(*_DATES, *_TIMES):
        if _when(el.text, "%Y%m%d" if el.tag in _DATES else "%Y%m%d%H%M") is None:
            bad(el, "format", ": không phải ngày có thật", ": not a real calendar date")
    admin = root.find("THONG_TIN_HANH_CHINH")
    if admin is not None:
        born = _when(admin.findtext("NGAY_SINH"), "%Y%m%d")
        sex = {"1": "male", "2": "female"}.get(admin.findtext("GIOI_TINH") or "")
        for tag, check in (("SO_CCCD", lambda v: validate_cccd(
                v, birth_date=born.date() if born else None, gender=sex)),
                           ("MA_THE_BHYT", validate_bhyt)):
            el = admin.find(tag)
            if el is None:
                continue
            try:
                check(el.text or "")
            except InvalidInput as e:
                d = e.details[0] if e.details else {}
                bad(el, "invalid", f": {d.get('message_vi', '')}", f": {d.get('message_en', '')}")
        start, end = admin.find("GT_THE_TU"), admin.find("GT_THE_DEN")
        if start is not None and end is not None and (end.text or "") < (start.text or ""):
            bad(end, "invalid", ": trước ngày bắt đầu giá trị thẻ",
                ": before the card's start of validity")
    for dot in root.iterfind("DOT_DIEU_TRI/DOT"):
        start, end = dot.find("NGAY_VAO"), dot.find("NGAY_RA")
        if start is not None and end is not None and (end.text or "") < (start.text or ""):
            bad(end, "invalid", ": trước ngày vào", ": before the admission time")
    return out


def record_errors(xml: bytes) -> list[dict[str, str]]:
    """Per-field errors of a ``HoSoBenhAn`` XML (unsigned or signed): its XSD, then the
    rules the XSD cannot express. Empty when the record may be signed and sent.

    Each error: ``field`` (path below the root, e.g. ``DOT_DIEU_TRI/DOT[1]/NGAY_VAO``),
    ``path``, ``line``, ``kind`` (missing, format, code, length, empty, number,
    invalid, unexpected), ``message_vi``, ``message_en``; values are never quoted.
    """
    root = etree.fromstring(xml, parser=etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False))
    errors = xsd_errors(root, XSD_NAME, scope="HoSoBenhAn", labels=RECORD_LABELS,
                        field_style="path")
    reported = {e["field"] for e in errors}
    return errors + [e for e in _rule_errors(root) if e["field"] not in reported]
