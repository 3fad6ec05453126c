"""Retention of medical records (TT 33/2025/TT-BYT), legal hold and destruction.

Periods are counted from the year the case closed: a record of a case closed
in year Y with a 10-year class is kept until 31 December of Y+10. A later
event can only raise the class (and the object lock is extended, never
shortened); a legal hold suspends expiry; destruction needs an expired record
and two different people (one requests, another approves), and is recorded in
the audit chain. The event→class mapping is data (``RetentionRules``), with
the defaults below; the policy package may supply its own.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime


class RetentionClass(enum.StrEnum):
    OUTPATIENT_10Y = "OUTPATIENT_10Y"
    INPATIENT_10Y = "INPATIENT_10Y"
    MENTAL_ILLNESS_20Y = "MENTAL_ILLNESS_20Y"
    OCCUPATIONAL_ACCIDENT_20Y = "OCCUPATIONAL_ACCIDENT_20Y"
    TRAFFIC_ACCIDENT_20Y = "TRAFFIC_ACCIDENT_20Y"
    COSMETIC_20Y = "COSMETIC_20Y"
    TRANSPLANT_20Y = "TRANSPLANT_20Y"
    ORGAN_DONOR_RECIPIENT_30Y = "ORGAN_DONOR_RECIPIENT_30Y"
    DEATH_30Y = "DEATH_30Y"
    MEDICAL_INCIDENT_PERMANENT = "MEDICAL_INCIDENT_PERMANENT"


YEARS: dict[RetentionClass, int | None] = {
    RetentionClass.OUTPATIENT_10Y: 10,
    RetentionClass.INPATIENT_10Y: 10,
    RetentionClass.MENTAL_ILLNESS_20Y: 20,
    RetentionClass.OCCUPATIONAL_ACCIDENT_20Y: 20,
    RetentionClass.TRAFFIC_ACCIDENT_20Y: 20,
    RetentionClass.COSMETIC_20Y: 20,
    RetentionClass.TRANSPLANT_20Y: 20,
    RetentionClass.ORGAN_DONOR_RECIPIENT_30Y: 30,
    RetentionClass.DEATH_30Y: 30,
    RetentionClass.MEDICAL_INCIDENT_PERMANENT: None,
}

TITLES_VI: dict[RetentionClass, str] = {
    RetentionClass.OUTPATIENT_10Y: "Hồ sơ bệnh án ngoại trú (10 năm)",
    RetentionClass.INPATIENT_10Y: "Hồ sơ bệnh án nội trú (10 năm)",
    RetentionClass.MENTAL_ILLNESS_20Y: "Bệnh tâm thần (20 năm)",
    RetentionClass.OCCUPATIONAL_ACCIDENT_20Y: "Tai nạn lao động (20 năm)",
    RetentionClass.TRAFFIC_ACCIDENT_20Y: "Tai nạn giao thông (20 năm)",
    RetentionClass.COSMETIC_20Y: "Thẩm mỹ (20 năm)",
    RetentionClass.TRANSPLANT_20Y: "Liên quan ghép mô, bộ phận cơ thể (20 năm)",
    RetentionClass.ORGAN_DONOR_RECIPIENT_30Y: "Người hiến, người nhận bộ phận cơ thể (30 năm)",
    RetentionClass.DEATH_30Y: "Người bệnh tử vong (30 năm)",
    RetentionClass.MEDICAL_INCIDENT_PERMANENT: "Sự cố y khoa (vĩnh viễn)",
}

PERMANENT_LOCK = date(9999, 12, 31)
"""Object-lock date used for permanent records (the index stores ``None``)."""

DEFAULT_EVENTS: dict[str, RetentionClass] = {
    "outpatient": RetentionClass.OUTPATIENT_10Y,
    "inpatient": RetentionClass.INPATIENT_10Y,
    "emergency": RetentionClass.INPATIENT_10Y,
    "mental_illness": RetentionClass.MENTAL_ILLNESS_20Y,
    "occupational_accident": RetentionClass.OCCUPATIONAL_ACCIDENT_20Y,
    "traffic_accident": RetentionClass.TRAFFIC_ACCIDENT_20Y,
    "cosmetic": RetentionClass.COSMETIC_20Y,
    "transplant": RetentionClass.TRANSPLANT_20Y,
    "organ_donor": RetentionClass.ORGAN_DONOR_RECIPIENT_30Y,
    "organ_recipient": RetentionClass.ORGAN_DONOR_RECIPIENT_30Y,
    "death": RetentionClass.DEATH_30Y,
    "medical_incident": RetentionClass.MEDICAL_INCIDENT_PERMANENT,
}


def rank(cls: RetentionClass) -> int:
    """Longer retention ranks higher; permanent is highest."""
    years = YEARS[cls]
    return 10_000 if years is None else years


def retain_until(cls: RetentionClass | str, closed_year: int) -> date | None:
    """Last day the record must be kept (None: permanent)."""
    years = YEARS[RetentionClass(cls)]
    return None if years is None else date(closed_year + years, 12, 31)


def lock_date(until: date | None) -> date:
    """The object-lock date for an index retention date (permanent → far future)."""
    return PERMANENT_LOCK if until is None else until


def higher(a: RetentionClass | str, b: RetentionClass | str) -> RetentionClass:
    ca, cb = RetentionClass(a), RetentionClass(b)
    return cb if rank(cb) > rank(ca) else ca


@dataclass(frozen=True)
class RetentionRules:
    """Clinical event → retention class (defaults per TT 33/2025/TT-BYT)."""

    events: Mapping[str, RetentionClass] = field(default_factory=lambda: dict(DEFAULT_EVENTS))

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, str]) -> RetentionRules:
        merged = dict(DEFAULT_EVENTS)
        merged.update({k: RetentionClass(v) for k, v in mapping.items()})
        return cls(merged)

    def class_for(self, event: str) -> RetentionClass:
        from core.errors import InvalidInput

        try:
            return self.events[event]
        except KeyError as e:
            raise InvalidInput("retention.unknown_event",
                               f"Sự kiện lưu trữ không rõ: {event}",
                               f"Unknown retention event: {event}") from e

    def raised(self, current: RetentionClass | str, event: str) -> RetentionClass:
        """The class after ``event``: never lower than ``current``."""
        return higher(current, self.class_for(event))


def today_utc() -> date:
    return datetime.now(UTC).date()
