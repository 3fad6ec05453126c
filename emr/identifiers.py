"""Vietnamese identifiers: số định danh cá nhân (CCCD), BHYT card number, ICD-10 code.

Each validator returns the normalised value or raises ``InvalidInput`` with a
field-level message in Vietnamese and English. Messages never echo the value.
"""

from __future__ import annotations

import re
from datetime import date

from core.errors import InvalidInput

# Mã tỉnh in the first three digits of the 12-digit personal identification
# number (TT 59/2021/TT-BCA, Phụ lục I). Numbers issued before the 2025
# merger of provinces keep their prefix, so the 63 codes stay valid.
CCCD_PROVINCES: dict[str, str] = {
    "001": "Hà Nội", "002": "Hà Giang", "004": "Cao Bằng", "006": "Bắc Kạn",
    "008": "Tuyên Quang", "010": "Lào Cai", "011": "Điện Biên", "012": "Lai Châu",
    "014": "Sơn La", "015": "Yên Bái", "017": "Hòa Bình", "019": "Thái Nguyên",
    "020": "Lạng Sơn", "022": "Quảng Ninh", "024": "Bắc Giang", "025": "Phú Thọ",
    "026": "Vĩnh Phúc", "027": "Bắc Ninh", "030": "Hải Dương", "031": "Hải Phòng",
    "033": "Hưng Yên", "034": "Thái Bình", "035": "Hà Nam", "036": "Nam Định",
    "037": "Ninh Bình", "038": "Thanh Hóa", "040": "Nghệ An", "042": "Hà Tĩnh",
    "044": "Quảng Bình", "045": "Quảng Trị", "046": "Thừa Thiên Huế", "048": "Đà Nẵng",
    "049": "Quảng Nam", "051": "Quảng Ngãi", "052": "Bình Định", "054": "Phú Yên",
    "056": "Khánh Hòa", "058": "Ninh Thuận", "060": "Bình Thuận", "062": "Kon Tum",
    "064": "Gia Lai", "066": "Đắk Lắk", "067": "Đắk Nông", "068": "Lâm Đồng",
    "070": "Bình Phước", "072": "Tây Ninh", "074": "Bình Dương", "075": "Đồng Nai",
    "077": "Bà Rịa - Vũng Tàu", "079": "Hồ Chí Minh", "080": "Long An", "082": "Tiền Giang",
    "083": "Bến Tre", "084": "Trà Vinh", "086": "Vĩnh Long", "087": "Đồng Tháp",
    "089": "An Giang", "091": "Kiên Giang", "092": "Cần Thơ", "093": "Hậu Giang",
    "094": "Sóc Trăng", "095": "Bạc Liêu", "096": "Cà Mau",
}

# Mã đối tượng (first two letters of the BHYT card, QĐ 1351/QĐ-BHXH and later).
BHYT_OBJECT_CODES = frozenset(["DN", "HX", "CH", "NN", "TK", "HC", "XK", "HT", "TB", "NO", "CT", "XB", "TN", "CS", "QN", "CA", "CY", "XN", "MS", "CC", "CK", "CB", "KC", "HD", "TE", "BT", "HN", "DT", "DK", "XD", "TS", "TC", "TQ", "TA", "TY", "HG", "LS", "PV", "TL", "XV", "GB", "GD", "HS", "SV", "GK", "NV", "HK", "CN", "MT", "NT", "DS"])

_CCCD = re.compile(r"^\d{12}$")
_BHYT = re.compile(r"^(?P<obj>[A-Z]{2})(?P<level>[1-5])(?P<prov>\d{2})(?P<num>\d{10})$")
_ICD10 = re.compile(r"^[A-Z]\d{2}(\.[0-9A-Z]{1,4})?$")


def _bad(field: str, vi: str, en: str) -> InvalidInput:
    return InvalidInput("emr.invalid_identifier", f"{field}: {vi}", f"{field}: {en}",
                        details=[{"field": field, "message_vi": vi, "message_en": en}])


def validate_cccd(value: str, *, birth_date: date | None = None, gender: str | None = None,
                  field: str = "patient.cccd") -> str:
    """12 digits: province (3), century+sex (1), birth year (2), serial (6)."""
    v = value.strip().replace(" ", "")
    if not _CCCD.match(v):
        raise _bad(field, "số định danh cá nhân phải gồm đúng 12 chữ số",
                   "the personal identification number must be exactly 12 digits")
    if v[:3] not in CCCD_PROVINCES:
        raise _bad(field, "mã tỉnh (3 chữ số đầu) không tồn tại",
                   "the province code (first 3 digits) does not exist")
    code = int(v[3])
    if birth_date is not None:
        century = 1900 + (code // 2) * 100
        if century + int(v[4:6]) != birth_date.year:
            raise _bad(field, "không khớp năm sinh", "does not match the year of birth")
    if gender in ("male", "female") and ("male" if code % 2 == 0 else "female") != gender:
        raise _bad(field, "không khớp giới tính", "does not match the sex")
    return v


def validate_bhyt(value: str, field: str = "patient.bhyt_card") -> str:
    """15 characters: object code (2 letters), benefit level (1-5), province (2), number (10)."""
    v = value.strip().upper().replace(" ", "")
    m = _BHYT.match(v)
    if not m:
        raise _bad(field, "mã thẻ BHYT gồm 15 ký tự: 2 chữ cái mã đối tượng, 1 chữ số mức "
                   "hưởng (1-5), 2 chữ số mã tỉnh, 10 chữ số",
                   "a BHYT card number is 15 characters: 2-letter object code, benefit level "
                   "digit (1-5), 2-digit province code, 10 digits")
    if m["obj"] not in BHYT_OBJECT_CODES:
        raise _bad(field, "mã đối tượng BHYT không tồn tại", "unknown BHYT object code")
    return v


def validate_icd10(value: str, field: str = "condition.icd10") -> str:
    v = value.strip().upper()
    if not _ICD10.match(v):
        raise _bad(field, "mã ICD-10 không hợp lệ (ví dụ K35.8)",
                   "invalid ICD-10 code (for example K35.8)")
    return v


def cccd_province(value: str) -> str:
    return CCCD_PROVINCES[validate_cccd(value)[:3]]
