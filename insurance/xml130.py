"""Build, validate and read the XML 130 claim: tables XML1…XML5 in a ``GIAMDINHHS`` wrapper.

Each table is its own XML document (UTF-8, text in CDATA as the format's
examples do), validated against its XSD, then base64-encoded into a
``FILEHOSO`` of the wrapper; the wrapper's ``CHUKYDONVI`` element receives the
facility's signature (``signer.xml.sign_enveloped``).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from lxml import etree

from core.errors import InvalidInput
from insurance.fields import FIELD_LABELS, TABLES, Field
from insurance.model import ClaimEncounter, DrugLine, ServiceLine
from insurance.schema import field_error, xsd_errors

CENT = Decimal("0.01")
_CCCD = re.compile(r"^[0-9]{12}$")
_BHYT = re.compile(r"^[A-Z]{2}[1-5][0-9]{2}[0-9]{10}$")
_ICD10 = re.compile(r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$")


def _t12(value: datetime | None) -> str:
    return value.strftime("%Y%m%d%H%M") if value else ""


def _t8(value: date | None) -> str:
    return value.strftime("%Y%m%d") if value else ""


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _amounts(quantity: Decimal, unit_price: Decimal, rate: int, level: int) -> dict[str, Decimal]:
    """Split one line's cost between the fund and the patient, as the format defines it."""
    total = _money(quantity * unit_price)
    covered = _money(total * rate / 100)
    fund = _money(covered * level / 100)
    return {
        "THANH_TIEN_BV": total,
        "THANH_TIEN_BH": covered,
        "T_NGUONKHAC": Decimal("0.00"),
        "T_BHTT": fund,
        "T_BNCCT": covered - fund,
        "T_BNTT": total - covered,
    }


def _drug_row(enc: ClaimEncounter, i: int, d: DrugLine) -> dict[str, Any]:
    return {
        "MA_LK": enc.link_code, "STT": i, "MA_THUOC": d.drug_code, "MA_NHOM": d.group_code,
        "TEN_THUOC": d.name, "DON_VI_TINH": d.unit, "HAM_LUONG": d.strength,
        "DUONG_DUNG": d.route, "LIEU_DUNG": d.dosage, "SO_DANG_KY": d.registration_no,
        "TT_THAU": d.bid_info, "PHAM_VI": 1, "TYLE_TT_BH": d.insurance_rate,
        "SO_LUONG": d.quantity, "DON_GIA": d.unit_price, "MUC_HUONG": d.benefit_level,
        "MA_KHOA": d.department_code, "MA_BAC_SI": d.doctor_code,
        "NGAY_YL": _t12(d.ordered_at), "NGAY_TH_YL": _t12(d.given_at), "MA_PTTT": 1,
        **_amounts(d.quantity, d.unit_price, d.insurance_rate, d.benefit_level),
    }


def _service_row(enc: ClaimEncounter, i: int, s: ServiceLine) -> dict[str, Any]:
    row: dict[str, Any] = {
        "MA_LK": enc.link_code, "STT": i, "MA_NHOM": s.group_code, "DON_VI_TINH": s.unit,
        "PHAM_VI": 1, "SO_LUONG": s.quantity, "DON_GIA_BV": s.unit_price,
        "DON_GIA_BH": s.unit_price, "TYLE_TT_DV": 100, "TYLE_TT_BH": s.insurance_rate,
        "MUC_HUONG": s.benefit_level, "MA_KHOA": s.department_code, "MA_BAC_SI": s.doctor_code,
        "MA_BENH": s.disease_code or enc.main_icd10, "NGAY_YL": _t12(s.ordered_at),
        "NGAY_TH_YL": _t12(s.performed_at), "NGAY_KQ": _t12(s.result_at), "MA_PTTT": 1,
        **_amounts(s.quantity, s.unit_price, s.insurance_rate, s.benefit_level),
    }
    if s.is_supply:
        row.update(MA_VAT_TU=s.service_code, TEN_VAT_TU=s.name)
    else:
        row.update(MA_DICH_VU=s.service_code, TEN_DICH_VU=s.name)
    return row


def _summary_row(enc: ClaimEncounter, drugs: list[dict[str, Any]],
                 services: list[dict[str, Any]]) -> dict[str, Any]:
    p = enc.patient
    lines = drugs + services

    def total(key: str, rows: Iterable[dict[str, Any]] = lines) -> Decimal:
        return sum((r[key] for r in rows), Decimal("0.00"))

    supplies = [r for r in services if "MA_VAT_TU" in r]
    settled = enc.settled_at or enc.discharged_at
    days = max(1, (enc.discharged_at.date() - enc.admitted_at.date()).days
               + (1 if enc.visit_type == "03" else 0))
    return {
        "MA_LK": enc.link_code, "STT": 1, "MA_BN": p.patient_code, "HO_TEN": p.full_name,
        "SO_CCCD": p.citizen_id, "NGAY_SINH": p.dob.strftime("%Y%m%d") + "0000",
        "GIOI_TINH": p.sex, "MA_QUOCTICH": p.nationality, "MA_DANTOC": p.ethnicity,
        "MA_NGHE_NGHIEP": p.occupation, "DIA_CHI": p.address, "MATINH_CU_TRU": p.province_code,
        "MAXA_CU_TRU": p.commune_code, "DIEN_THOAI": p.phone, "MA_THE_BHYT": p.insurance_card,
        "MA_DKBD": p.insurance_registered_facility, "GT_THE_TU": _t8(p.card_valid_from),
        "GT_THE_DEN": _t8(p.card_valid_to), "LY_DO_VV": enc.reason,
        "CHAN_DOAN_VAO": enc.admission_diagnosis, "CHAN_DOAN_RV": enc.discharge_diagnosis,
        "MA_BENH_CHINH": enc.main_icd10, "MA_BENH_KT": ";".join(enc.secondary_icd10),
        "MA_DOITUONG_KCB": enc.beneficiary_type, "NGAY_VAO": _t12(enc.admitted_at),
        "NGAY_VAO_NOI_TRU": _t12(enc.admitted_at) if enc.visit_type == "03" else "",
        "NGAY_RA": _t12(enc.discharged_at), "SO_NGAY_DTRI": days,
        "KET_QUA_DTRI": enc.treatment_result, "MA_LOAI_RV": enc.discharge_type,
        "NGAY_TTOAN": _t12(settled),
        "T_THUOC": total("THANH_TIEN_BV", drugs), "T_VTYT": total("THANH_TIEN_BV", supplies),
        "T_TONGCHI_BV": total("THANH_TIEN_BV"), "T_TONGCHI_BH": total("THANH_TIEN_BH"),
        "T_BNTT": total("T_BNTT"), "T_BNCCT": total("T_BNCCT"), "T_BHTT": total("T_BHTT"),
        "T_NGUONKHAC": Decimal("0.00"), "T_BHTT_GDV": Decimal("0.00"),
        "NAM_QT": settled.year, "THANG_QT": settled.month, "MA_LOAI_KCB": enc.visit_type,
        "MA_KHOA": enc.department_code, "MA_CSKCB": enc.facility_code,
        "CAN_NANG": enc.weight_kg, "MA_HSBA": enc.record_number, "MA_TTDV": enc.head_of_facility_code,
    }


def _cell(f: Field, value: Any) -> Any:
    if value is None or value == "":
        return None
    if f.type == "S":
        return etree.CDATA(str(value))
    if f.type == "D":
        return format(Decimal(value).quantize(Decimal(1).scaleb(-f.scale)), "f")
    return str(value)


def _row_element(tag: str, fields: tuple[Field, ...], row: dict[str, Any]) -> etree._Element:
    el = etree.Element(tag)
    for f in fields:
        value = _cell(f, row.get(f.name))
        if value is None:
            continue  # a required field left out is reported by the XSD, with its name
        child = etree.SubElement(el, f.name)
        child.text = value
    return el


def _table(code: str, rows: list[dict[str, Any]]) -> bytes:
    root_tag, list_tag, row_tag, fields = TABLES[code]
    if list_tag is None:
        root = _row_element(root_tag, fields, rows[0])
    else:
        root = etree.Element(root_tag)
        lst = etree.SubElement(root, list_tag)
        for row in rows:
            lst.append(_row_element(row_tag, fields, row))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def schema_errors(xml: bytes, xsd_name: str, table: str) -> list[dict[str, str]]:
    """XSD violations as per-field messages (Vietnamese and English, values never quoted)."""
    return xsd_errors(xml, xsd_name, scope=table, labels=FIELD_LABELS)


def _check_identifiers(enc: ClaimEncounter) -> list[dict[str, str]]:
    errors = []

    def bad(field: str, vi: str, en: str) -> None:
        errors.append({"field": field, "message_vi": vi, "message_en": en})

    p = enc.patient
    if not _CCCD.match(p.citizen_id):
        bad("XML1.SO_CCCD", "Số định danh cá nhân phải gồm đúng 12 chữ số.",
            "The personal identification number must be exactly 12 digits.")
    if p.insurance_card and not _BHYT.match(p.insurance_card):
        bad("XML1.MA_THE_BHYT", "Mã thẻ BHYT phải gồm 15 ký tự: 2 chữ cái, mức hưởng 1-5, "
            "2 số mã tỉnh và 10 số.", "The health-insurance card number must be 15 characters: "
            "2 letters, benefit level 1-5, 2-digit province code, 10 digits.")
    for name, code in [("XML1.MA_BENH_CHINH", enc.main_icd10)] + [
        ("XML1.MA_BENH_KT", c) for c in enc.secondary_icd10
    ]:
        if not _ICD10.match(code):
            bad(name, f"Mã ICD-10 không hợp lệ: {code!r}.", f"Invalid ICD-10 code: {code!r}.")
    if enc.discharged_at < enc.admitted_at:
        bad("XML1.NGAY_RA", "Ngày ra viện trước ngày vào viện.",
            "Discharge time is before admission time.")
    return errors


def build_tables(enc: ClaimEncounter) -> dict[str, bytes]:
    """The tables XML1…XML5 for one encounter, each validated against its XSD."""
    errors = _check_identifiers(enc)
    drugs = [_drug_row(enc, i, d) for i, d in enumerate(enc.drugs, 1)]
    services = [_service_row(enc, i, s) for i, s in enumerate(enc.services, 1)]
    labs = [{
        "MA_LK": enc.link_code, "STT": i, "MA_DICH_VU": r.service_code,
        "MA_CHI_SO": r.indicator_code, "TEN_CHI_SO": r.indicator_name, "GIA_TRI": r.value,
        "DON_VI_DO": r.unit, "MO_TA": r.description, "KET_LUAN": r.conclusion,
        "NGAY_KQ": _t12(r.reported_at), "MA_BS_DOC_KQ": r.reading_doctor_code,
    } for i, r in enumerate(enc.lab_results, 1)]
    notes = [{
        "MA_LK": enc.link_code, "STT": i, "DIEN_BIEN_LS": n.course, "GIAI_DOAN_BENH": n.stage,
        "HOI_CHAN": n.consultation, "PHAU_THUAT": n.surgery, "THOI_DIEM_DBLS": _t12(n.at),
        "NGUOI_THUC_HIEN": n.performed_by,
    } for i, n in enumerate(enc.progress_notes, 1)]
    tables = {
        "XML1": _table("XML1", [_summary_row(enc, drugs, services)]),
        "XML2": _table("XML2", drugs),
        "XML3": _table("XML3", services),
        "XML4": _table("XML4", labs),
        "XML5": _table("XML5", notes),
    }
    for code, xml in tables.items():
        errors += schema_errors(xml, f"{code.lower()}.xsd", code)
    if errors:
        raise InvalidInput(
            "xml130.invalid",
            "Dữ liệu bảng XML 130 không hợp lệ; chưa tạo tệp nào.",
            "The XML 130 data is invalid; no file was produced.",
            details=errors,
        )
    return tables


def build_claim(enc: ClaimEncounter, *, made_on: date | None = None) -> bytes:
    """The unsigned ``GIAMDINHHS`` wrapper (with an empty ``CHUKYDONVI``)."""
    tables = build_tables(enc)
    root = etree.Element("GIAMDINHHS")
    unit = etree.SubElement(root, "THONGTINDONVI")
    etree.SubElement(unit, "MACSKCB").text = enc.facility_code
    info = etree.SubElement(root, "THONGTINHOSO")
    etree.SubElement(info, "NGAYLAP").text = _t8(made_on or enc.discharged_at.date())
    etree.SubElement(info, "SOLUONGHOSO").text = "1"
    record = etree.SubElement(etree.SubElement(info, "DANHSACHHOSO"), "HOSO")
    for code, xml in tables.items():
        f = etree.SubElement(record, "FILEHOSO")
        etree.SubElement(f, "LOAIHOSO").text = code
        etree.SubElement(f, "NOIDUNGFILE").text = base64.b64encode(xml).decode("ascii")
    etree.SubElement(root, "CHUKYDONVI")
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    errors = schema_errors(xml, "giamdinhhs.xsd", "GIAMDINHHS")
    if errors:  # pragma: no cover - the builder above only produces valid wrappers
        raise InvalidInput("xml130.invalid", "Tệp bao XML 130 không hợp lệ.",
                           "The XML 130 wrapper is invalid.", details=errors)
    return xml


def read_claim(xml: bytes) -> dict[str, bytes]:
    """The decoded tables of a claim wrapper (after its signature has been verified)."""
    try:
        root = etree.fromstring(xml, parser=_safe_parser())
    except etree.XMLSyntaxError as e:
        raise InvalidInput("xml130.malformed", "Tệp XML không đọc được.",
                           "The XML file cannot be parsed.", details=[str(e)]) from e
    out: dict[str, bytes] = {}
    for f in root.iterfind("THONGTINHOSO/DANHSACHHOSO/HOSO/FILEHOSO"):
        out[f.findtext("LOAIHOSO") or "?"] = base64.b64decode(f.findtext("NOIDUNGFILE") or "")
    return out


def claim_errors(xml: bytes) -> list[dict[str, str]]:
    """Per-field errors of a claim file (signed or not): its wrapper's XSD, then each
    table's. Empty when every part matches its schema."""
    try:
        root = etree.fromstring(xml, parser=_safe_parser())
    except etree.XMLSyntaxError as e:
        raise InvalidInput("xml130.malformed", "Tệp XML không đọc được.",
                           "The XML file cannot be parsed.", details=[str(e)]) from e
    errors = xsd_errors(root, "giamdinhhs.xsd", scope="GIAMDINHHS")
    if errors:
        return errors
    for code, table in read_claim(xml).items():
        try:
            errors += schema_errors(table, f"{code.lower()}.xsd", code)
        except etree.XMLSyntaxError:
            errors.append(field_error(code, code, code, "", "format"))
    return errors


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                           remove_blank_text=False, load_dtd=False)
