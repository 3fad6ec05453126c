"""Retention policy: how long a medical record is kept (TT 33/2025/TT-BYT).

The record type gives a base class (inpatient or outpatient, 10 years); events
in the case (death, transplant, medical incident, accidents, mental illness,
cosmetic treatment) may raise it. The longest period wins, a permanent class
beats every number, and a later event can only raise a record's class, never
lower it. Years are counted from the year the case closed (the archive's
``retain_until`` does the date arithmetic). A legal hold suspends expiry.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from core.errors import PolicyError
from policies.source import Problem, SourceDoc
from policies.vocabulary import LAW_RETENTION_YEARS, RetentionClassName, UserRole

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class RetentionClassRule(BaseModel):
    model_config = _FROZEN
    years: int | None = Field(gt=0)
    """``null`` = kept permanently."""
    label_vi: str
    label_en: str
    legal_basis: str


class LegalHoldReason(BaseModel):
    model_config = _FROZEN
    label_vi: str
    label_en: str
    place_roles: tuple[UserRole, ...] = Field(min_length=1)
    """Who may place the hold."""
    release_roles: tuple[UserRole, ...] = Field(min_length=1)
    """Who may lift it (it never lifts by itself)."""


class RetentionDecision(BaseModel):
    """The class a record falls in, and why."""

    model_config = ConfigDict(frozen=True)
    class_name: str
    """A ``archive.retention.RetentionClass`` member name (``DEATH_30Y``...)."""
    years: int | None
    """Years after the year the case closed; ``None`` = permanent."""
    legal_basis: str
    reasons: tuple[str, ...]
    """The record type and/or events that set this class."""
    label_vi: str = ""
    label_en: str = ""

    @property
    def permanent(self) -> bool:
        return self.years is None


class RetentionPolicy(BaseModel):
    model_config = _FROZEN

    kind: str = "retention"
    version: str
    legal_basis: str
    classes: dict[RetentionClassName, RetentionClassRule]
    record_types: dict[str, RetentionClassName] = Field(min_length=1)
    """Base class by record type (``inpatient``, ``outpatient``...)."""
    events: dict[str, RetentionClassName]
    """Class raised to by an event in the case (``death``, ``medical_incident``...)."""
    form_record_types: dict[str, str] = {}
    """Record type a form usually belongs to, for ``hsba policies explain``."""
    legal_hold: dict[str, LegalHoldReason] = {}
    sha256: str = ""
    source: str = ""

    @staticmethod
    def _rank(years: int | None) -> float:
        return float("inf") if years is None else float(years)

    def decision_for(self, class_name: str, reasons: tuple[str, ...] = ()) -> RetentionDecision:
        rule = self.classes[class_name]  # type: ignore[index]
        return RetentionDecision(class_name=class_name, years=rule.years,
                                 legal_basis=rule.legal_basis, reasons=reasons,
                                 label_vi=rule.label_vi, label_en=rule.label_en)

    def classify(self, record_type: str, events: Iterable[str] = (),
                 current: str | None = None) -> RetentionDecision:
        """The retention class of a record; ``current`` (its class so far) is never lowered."""
        if record_type not in self.record_types:
            raise PolicyError(
                "policy.unknown_record_type",
                f"Loại hồ sơ '{record_type}' không có trong chính sách lưu trữ; "
                f"các loại: {', '.join(self.record_types)}.",
                f"Record type '{record_type}' is not in the retention policy; "
                f"known: {', '.join(self.record_types)}.")
        candidates: list[tuple[str, str]] = [(self.record_types[record_type], record_type)]
        for event in events:
            if event not in self.events:
                raise PolicyError(
                    "policy.unknown_event",
                    f"Sự kiện '{event}' không có trong chính sách lưu trữ; "
                    f"các sự kiện: {', '.join(self.events)}.",
                    f"Event '{event}' is not in the retention policy; "
                    f"known: {', '.join(self.events)}.")
            candidates.append((self.events[event], event))
        if current is not None:
            if current not in self.classes:
                raise PolicyError("policy.unknown_retention_class",
                                  f"Lớp lưu trữ '{current}' không tồn tại.",
                                  f"Retention class '{current}' does not exist.")
            candidates.append((current, f"current:{current}"))
        best = max(self._rank(self.classes[c].years) for c, _ in candidates)  # type: ignore[index]
        # among equally long classes keep the first one named (record type, then events)
        winner = next(c for c, _ in candidates
                      if self._rank(self.classes[c].years) == best)  # type: ignore[index]
        reasons = tuple(r for c, r in candidates
                        if self._rank(self.classes[c].years) == best)  # type: ignore[index]
        return self.decision_for(winner, reasons)

    def may_place_hold(self, role: str, reason: str) -> bool:
        rule = self.legal_hold.get(reason)
        return rule is not None and role in rule.place_roles

    def may_release_hold(self, role: str, reason: str) -> bool:
        rule = self.legal_hold.get(reason)
        return rule is not None and role in rule.release_roles


def check_retention_rules(doc: SourceDoc, policy: RetentionPolicy) -> list[Problem]:
    """Every class present, none shorter than the law; every mapping names a class."""
    out: list[Problem] = []
    for name, law_years in LAW_RETENTION_YEARS.items():
        rule = policy.classes.get(name)  # type: ignore[call-overload]
        if rule is None:
            out.append(doc.problem(("classes",), f"thiếu lớp lưu trữ {name}",
                                   f"retention class {name} is missing"))
            continue
        shorter = (rule.years is not None and (law_years is None or rule.years < law_years))
        if shorter:
            law_vi = "vĩnh viễn" if law_years is None else f"{law_years} năm"
            law_en = "permanent" if law_years is None else f"{law_years} years"
            out.append(doc.problem(("classes", name, "years"),
                                   f"{name}: {rule.years} năm ngắn hơn mức luật định ({law_vi}, "
                                   f"TT 33/2025/TT-BYT)",
                                   f"{name}: {rule.years} years is shorter than the law "
                                   f"({law_en}, TT 33/2025/TT-BYT)"))
    return out
