"""Authorisation: the access policy (``policies`` ``PolicySet.access``)
decides, this gate asks it and enforces the answer.

Tenancy is checked first: an object of another hospital is reported as not
found (its existence is not revealed) and the attempt is audited. The gate
computes the caller's relationships to the record (same tenant, same
department, treating team, auditor grant); the policy file says what each
role may do with each relationship.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from core.errors import Forbidden, NotFound

log = logging.getLogger(__name__)

#: An auditor account's grant lasts this long past "now" while the account is
#: active (accounts carry no per-grant expiry yet: disabling the account ends it).
AUDITOR_GRANT = timedelta(hours=12)


class Actor(Protocol):
    subject: str
    tenant: str
    role: str
    kind: str
    department: str | None
    practitioner_id: str | None


@dataclass(frozen=True)
class RecordRef:
    """What the gate needs to know about the record an action touches."""

    tenant: str | None = None
    document_id: str | None = None
    form_code: str | None = None
    department: str | None = None
    care_team: frozenset[str] = field(default_factory=frozenset)
    """Practitioner ids of the treating team (creator and assigned signers)."""
    encounter_start: datetime | None = None
    encounter_end: datetime | None = None
    patient_ref: str | None = None
    """The record's patient (compared, never logged)."""
    presented_patient_ref: str | None = None
    """The patient who identified at a kiosk for this request."""


@dataclass(frozen=True)
class ActorRef:
    """Who acts, outside an API request (CLI, demo, bench): the fields a token carries."""

    subject: str
    tenant: str
    role: str
    kind: str = "staff"
    username: str = ""
    practitioner_id: str | None = None
    department: str | None = None

    @classmethod
    def of(cls, account: Any) -> ActorRef:
        return cls(subject=account.id, tenant=account.tenant, role=account.role,
                   kind=account.kind, username=account.username,
                   practitioner_id=account.practitioner_id, department=account.department)


def not_found() -> NotFound:
    return NotFound("document.not_found", "Không tìm thấy tài liệu.", "Document not found.")


class AccessGate:
    def __init__(self, services: Any) -> None:
        self._services = services

    def relationships(self, actor: Actor, record: RecordRef) -> frozenset[str]:
        rel = {"same_tenant"}
        if actor.role == "auditor":
            rel.add("auditor_grant")
        if actor.practitioner_id and actor.practitioner_id in record.care_team:
            rel.add("treating_team")
        if actor.department and record.department and actor.department == record.department:
            rel.add("same_department")
            if (actor.role == "kiosk" and record.patient_ref
                    and record.presented_patient_ref == record.patient_ref):
                rel.add("own_record")
        return frozenset(rel)

    def decide(self, actor: Actor, action: str, record: RecordRef) -> Any:
        from policies import AccessRequest

        now = datetime.now(UTC)
        request = AccessRequest(
            role=actor.role,
            action=action,
            relationships=self.relationships(actor, record),
            tenant_match=record.tenant is None or record.tenant == actor.tenant,
            now=now,
            form_code=record.form_code,
            encounter_start=record.encounter_start,
            encounter_end=record.encounter_end,
            grant_expiry=now + AUDITOR_GRANT if actor.role == "auditor" else None,
        )
        return self._services.policies.access.decide(request)

    def require(self, actor: Actor, action: str, record: RecordRef | None = None) -> None:
        record = record or RecordRef()
        if record.tenant is not None and record.tenant != actor.tenant:
            self._services.trail.record(
                action, actor=actor, document_id=record.document_id,
                outcome="refused", details={"reason": "cross_tenant"},
            )
            raise not_found()
        decision = self.decide(actor, action, record)
        if not decision.allowed:
            self._services.trail.record(
                action, actor=actor, document_id=record.document_id,
                outcome="refused", details={"reason": decision.rule_id},
            )
            raise Forbidden(
                "access.denied", decision.reason_vi, decision.reason_en,
                details={"action": action, "role": actor.role, "rule_id": decision.rule_id},
            )
