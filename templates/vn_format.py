"""Vietnamese presentation of dates, times and amounts on forms (Jinja2 filters)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from jinja2 import Undefined

BLANK_DATE = "ngày …… tháng …… năm ……"


def _missing(value: Any) -> bool:
    """Absent in the data (None, empty, or an undefined template variable)."""
    return value is None or isinstance(value, Undefined) or value == ""


def _parse(value: Any) -> date | datetime | None:
    if _missing(value):
        return None
    if isinstance(value, (date, datetime)):
        return value
    text = str(value)
    try:
        return datetime.fromisoformat(text) if "T" in text or " " in text else date.fromisoformat(text)
    except ValueError:
        return None


def vn_date(value: Any) -> str:
    """``2026-11-05`` → ``ngày 05 tháng 11 năm 2026`` (blank dotted form when empty)."""
    d = _parse(value)
    if d is None:
        return BLANK_DATE
    return f"ngày {d.day:02d} tháng {d.month:02d} năm {d.year}"


def vn_datetime(value: Any) -> str:
    """``2026-11-05T08:30`` → ``08 giờ 30 phút, ngày 05 tháng 11 năm 2026``."""
    d = _parse(value)
    if d is None:
        return "…… giờ …… phút, " + BLANK_DATE
    if not isinstance(d, datetime):
        return vn_date(d)
    return f"{d.hour:02d} giờ {d.minute:02d} phút, {vn_date(d)}"


def vn_short_date(value: Any) -> str:
    d = _parse(value)
    return "" if d is None else f"{d.day:02d}/{d.month:02d}/{d.year}"


def vn_time(value: Any) -> str:
    d = _parse(value)
    return "" if not isinstance(d, datetime) else f"{d.hour:02d}:{d.minute:02d}"


def vnd(value: Any) -> str:
    """Amount in đồng with dot thousands separators: ``1250000`` → ``1.250.000``."""
    if _missing(value):
        return ""
    number = round(float(value))
    return f"{number:,}".replace(",", ".")


def qty(value: Any) -> str:
    """A quantity: integer without decimals, otherwise a comma decimal."""
    if _missing(value):
        return ""
    f = float(value)
    return str(int(f)) if f == int(f) else f"{f:g}".replace(".", ",")


FILTERS = {"vn_date": vn_date, "vn_datetime": vn_datetime, "vn_short_date": vn_short_date,
           "vn_time": vn_time, "vnd": vnd, "qty": qty}
