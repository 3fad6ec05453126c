"""Access policy: who may do what to a record, deny by default.

A request is (user role, action, the user's relationships to the record,
whether the user belongs to the record's hospital, the time, the encounter's
dates, an auditor's grant expiry). Rules are listed in ``access.yaml``; a
``deny`` rule that matches wins over every ``allow``; nothing matching means
denied. A request across hospitals (tenants) is always denied, before any rule.
Time windows (CV 365): a rule may allow access only from the encounter's start
until N days after it ended; a rule on ``auditor_grant`` needs an unexpired grant.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from core.errors import Forbidden
from policies.source import Problem, SourceDoc
from policies.vocabulary import Action, Relationship, UserRole

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class AccessWindow(BaseModel):
    model_config = _FROZEN
    days_after_encounter: int = Field(ge=0)
    """Allowed from the encounter's start until this many days after it ended
    (while the encounter is open: allowed)."""


class AccessRule(BaseModel):
    model_config = _FROZEN
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    effect: Literal["allow", "deny"] = "allow"
    roles: tuple[UserRole, ...] = Field(min_length=1)
    actions: tuple[Action, ...] = Field(min_length=1)
    relationships: tuple[Relationship, ...] = Field(min_length=1)
    """The rule applies when the user has at least one of these relationships."""
    forms: tuple[str, ...] | None = None
    """Only for these form codes (absent = any form)."""
    window: AccessWindow | None = None
    description_vi: str
    description_en: str


class AccessRequest(BaseModel):
    """One question to the access policy. Values only: no patient data."""

    model_config = ConfigDict(frozen=True)
    role: str
    action: str
    relationships: frozenset[str] = frozenset()
    tenant_match: bool
    """The user belongs to the hospital that owns the record."""
    now: AwareDatetime
    """Times are timezone-aware (UTC stored); a naive time is refused."""
    form_code: str | None = None
    encounter_start: AwareDatetime | None = None
    encounter_end: AwareDatetime | None = None
    """``None`` with a start = the encounter is still open."""
    grant_expiry: AwareDatetime | None = None
    """End of an auditor's time-limited grant."""


class Decision(BaseModel):
    model_config = ConfigDict(frozen=True)
    allowed: bool
    reason_vi: str
    reason_en: str
    rule_id: str
    """The rule that decided, or ``cross_tenant`` / ``default_deny``."""


class AccessPolicy(BaseModel):
    model_config = _FROZEN

    kind: str = "access"
    version: str
    legal_basis: str
    rules: tuple[AccessRule, ...] = Field(min_length=1)
    sha256: str = ""
    source: str = ""

    def _applies(self, rule: AccessRule, req: AccessRequest) -> tuple[bool, str]:
        """Whether ``rule`` matches ``req``; the second value says why not (for reasons)."""
        if req.role not in rule.roles or req.action not in rule.actions:
            return False, ""
        if not req.relationships & set(rule.relationships):
            return False, ""
        if rule.forms is not None and req.form_code not in rule.forms:
            return False, ""
        only_grant = set(rule.relationships) & req.relationships == {"auditor_grant"}
        if only_grant and (req.grant_expiry is None or req.now >= req.grant_expiry):
            return False, "grant"
        if rule.window is not None:
            if req.encounter_start is None:
                return False, "window"
            if req.now < req.encounter_start:
                return False, "window"
            if req.encounter_end is not None and req.now > req.encounter_end + timedelta(
                    days=rule.window.days_after_encounter):
                return False, "window"
        return True, ""

    def decide(self, req: AccessRequest) -> Decision:
        if not req.tenant_match:
            return Decision(allowed=False, rule_id="cross_tenant",
                            reason_vi="Không được truy cập hồ sơ của cơ sở khác.",
                            reason_en="Records of another hospital are never accessible.")
        allow: AccessRule | None = None
        near_miss = ""
        for rule in self.rules:
            ok, why = self._applies(rule, req)
            near_miss = near_miss or why
            if not ok:
                continue
            if rule.effect == "deny":
                return Decision(allowed=False, rule_id=rule.id, reason_vi=rule.description_vi,
                                reason_en=rule.description_en)
            allow = allow or rule
        if allow is not None:
            return Decision(allowed=True, rule_id=allow.id, reason_vi=allow.description_vi,
                            reason_en=allow.description_en)
        if near_miss == "grant":
            return Decision(allowed=False, rule_id="default_deny",
                            reason_vi="Quyền kiểm tra không có hoặc đã hết hạn.",
                            reason_en="The audit grant is missing or has expired.")
        if near_miss == "window":
            return Decision(allowed=False, rule_id="default_deny",
                            reason_vi="Ngoài khung thời gian được phép truy cập hồ sơ.",
                            reason_en="Outside the time window in which access is allowed.")
        return Decision(allowed=False, rule_id="default_deny",
                        reason_vi=f"Vai trò '{req.role}' không được '{req.action}' hồ sơ này "
                                  f"(mặc định từ chối).",
                        reason_en=f"Role '{req.role}' may not '{req.action}' this record "
                                  f"(denied by default).")

    def check(self, req: AccessRequest) -> None:
        """The :class:`policies.protocol.Policy` face of :meth:`decide`."""
        d = self.decide(req)
        if not d.allowed:
            raise Forbidden("access.denied", d.reason_vi, d.reason_en,
                            details={"rule_id": d.rule_id, "role": req.role,
                                     "action": req.action})


def check_access_rules(doc: SourceDoc, policy: AccessPolicy) -> list[Problem]:
    out: list[Problem] = []
    seen: dict[str, int] = {}
    for i, rule in enumerate(policy.rules):
        if rule.id in seen:
            out.append(doc.problem(("rules", i, "id"),
                                   f"mã quy tắc '{rule.id}' bị lặp (quy tắc #{seen[rule.id]})",
                                   f"duplicate rule id '{rule.id}' (rule #{seen[rule.id]})"))
        seen.setdefault(rule.id, i)
        if rule.effect == "allow" and "admin" in rule.roles and set(rule.actions) & {
                "view", "print", "export", "sign"}:
            out.append(doc.problem(("rules", i, "roles"),
                                   "quản trị viên không được đọc hoặc ký hồ sơ bệnh án",
                                   "administrators may not read or sign medical records"))
    return out
