"""Values the workflow hands to its callers (API, CLI, bench, web pages): frozen, no ORM
rows; and the read-only lists the pages show (inbox, signed by me)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any


@dataclass(frozen=True)
class SignatureRequestView:
    """One signature a document needs, from its form's signing policy."""

    step: int
    role: str
    field: str
    methods: tuple[str, ...]
    certify: bool
    order_group: int
    """Steps with the same group may sign in any order; lower groups first."""
    status: str
    """``pending`` or ``signed``."""
    due_at: datetime | None = None
    signed_by: str | None = None
    signed_at: datetime | None = None
    method: str | None = None


@dataclass(frozen=True)
class DocumentView:
    id: str
    tenant: str
    form_code: str
    form_version: str
    status: str
    """``awaiting_signatures``, ``completed`` (B-LTA reached) or ``archived``."""
    version: int
    sha256: str
    patient_ref: str | None
    encounter_id: str | None
    department: str | None
    policy_version: str | None
    retention_class: str | None
    created_at: datetime
    updated_at: datetime
    archive_key: str | None = None
    care_team: tuple[str, ...] = ()
    signature_requests: tuple[SignatureRequestView, ...] = field(default_factory=tuple)

    @property
    def etag(self) -> str:
        return f'"{self.id}.v{self.version}.{self.sha256[:16]}"'

    @property
    def pending_roles(self) -> tuple[str, ...]:
        return tuple(r.role for r in self.signature_requests if r.status == "pending")


@dataclass(frozen=True)
class SignOutcome:
    document: DocumentView
    role: str
    level: str
    archived_version: int | None = None
    evidence: dict[str, Any] | None = None


# --- lists for the pages: what waits for my signature, what I signed --------------------
MAX_INBOX_ROWS = 500


@dataclass(frozen=True)
class InboxFilters:
    department: str | None = None
    form_code: str | None = None
    patient_ref: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    """Calendar days in Vietnamese time (UTC+7), both inclusive."""


@dataclass(frozen=True)
class InboxItem:
    id: str
    form_code: str
    department: str | None
    patient_ref: str | None
    created_at: datetime
    status: str
    sha256: str
    version: int
    step_role: str
    """The pending step this person would sign (or signed)."""
    signed_at: datetime | None = None


def _utc(v: datetime | None) -> datetime | None:
    return v if v is None or v.tzinfo else v.replace(tzinfo=UTC)


def _pending_rows(services: Any, tenant: str, roles: tuple[str, ...],
                  f: InboxFilters) -> list[Any]:
    from sqlalchemy import select

    from workflow.db import documents, signature_requests

    q = (select(documents, signature_requests.c.role.label("step_role"))
         .join(signature_requests, signature_requests.c.document_id == documents.c.id)
         .where(documents.c.tenant == tenant, documents.c.status == "awaiting_signatures",
                signature_requests.c.status == "pending", signature_requests.c.role.in_(roles))
         .order_by(documents.c.created_at.desc()).limit(MAX_INBOX_ROWS))
    if f.department:
        q = q.where(documents.c.department == f.department)
    if f.form_code:
        q = q.where(documents.c.form_code == f.form_code)
    if f.patient_ref:
        q = q.where(documents.c.patient_ref == f.patient_ref)
    if f.date_from:  # local midnight (UTC+7) of the first day
        q = q.where(documents.c.created_at >= datetime.combine(f.date_from, time.min, UTC)
                    - timedelta(hours=7))
    if f.date_to:  # local midnight after the last day
        q = q.where(documents.c.created_at < datetime.combine(f.date_to, time.min, UTC)
                    + timedelta(hours=17))
    with services.engine.connect() as conn:
        return list(conn.execute(q).all())


def _item(row: Any, signed_at: datetime | None = None) -> InboxItem:
    return InboxItem(id=row.id, form_code=row.form_code, department=row.department,
                     patient_ref=row.patient_ref, created_at=_utc(row.created_at),  # type: ignore[arg-type]
                     status=row.status, sha256=row.sha256, version=row.version,
                     step_role=row.step_role, signed_at=_utc(signed_at))


def signed_roles(services: Any, document_id: str) -> list[str]:
    """The form roles that have signed ``document_id`` so far (what the signing policy
    takes as ``signed_roles``)."""
    from sqlalchemy import select

    from workflow.db import signature_requests

    with services.engine.connect() as conn:
        rows = conn.execute(select(signature_requests.c.evidence).where(
            signature_requests.c.document_id == document_id,
            signature_requests.c.status == "signed")).all()
    return [r.evidence.get("signed_role") for r in rows if r.evidence]


def _next_roles(services: Any, form_code: str, form_version: str, document_id: str) -> set[str]:
    policy = services.policies.signing(form_code, form_version)
    return {r for s in policy.next_steps(signed_roles(services, document_id))
            for r in s.accepted_roles}


def awaiting_my_signature(services: Any, actor: Any, f: InboxFilters) -> list[InboxItem]:
    """Documents with a pending step my role signs, that the access policy lets me sign
    and whose signing order has reached my step (newest first)."""
    from workflow.signing import STAFF_SIGNER_ROLES

    roles = STAFF_SIGNER_ROLES.get(actor.role, ())
    if not roles:
        return []
    out: dict[str, InboxItem] = {}
    for row in _pending_rows(services, actor.tenant, roles, f):
        if row.id in out:
            continue
        if not services.access.decide(actor, "sign", services.documents.record_ref(row)).allowed:
            continue
        if row.step_role in _next_roles(services, row.form_code, row.form_version, row.id):
            out[row.id] = _item(row)
    return list(out.values())


def awaiting_patient(services: Any, actor: Any) -> list[InboxItem]:
    """For a kiosk: its department's documents whose next step is the patient's."""
    from workflow.signing import PATIENT_ROLES

    out: dict[str, InboxItem] = {}
    for row in _pending_rows(services, actor.tenant, PATIENT_ROLES,
                             InboxFilters(department=actor.department)):
        if row.id not in out and row.step_role in _next_roles(
                services, row.form_code, row.form_version, row.id):
            out[row.id] = _item(row)
    return list(out.values())


def signed_by_me(services: Any, actor: Any, limit: int = 200) -> list[InboxItem]:
    """What this person signed, newest first."""
    from sqlalchemy import select

    from workflow.db import documents, signature_requests

    q = (select(documents, signature_requests.c.role.label("step_role"),
                signature_requests.c.signed_at)
         .join(signature_requests, signature_requests.c.document_id == documents.c.id)
         .where(documents.c.tenant == actor.tenant,
                signature_requests.c.signed_by == actor.subject)
         .order_by(signature_requests.c.signed_at.desc()).limit(limit))
    with services.engine.connect() as conn:
        rows = conn.execute(q).all()
    return [_item(r, r.signed_at) for r in rows]


def my_next_step(services: Any, actor: Any, view: DocumentView) -> str | None:
    """The role this person would sign now on this document, else None."""
    from workflow.signing import STAFF_SIGNER_ROLES

    if view.status != "awaiting_signatures":
        return None
    roles = STAFF_SIGNER_ROLES.get(actor.role, ())
    policy = services.policies.signing(view.form_code, view.form_version)
    nxt = [r for s in policy.next_steps(signed_roles(services, view.id))
           for r in s.accepted_roles if r in roles]
    pending = {r.role for r in view.signature_requests if r.status == "pending"}
    return next((r for r in nxt if r in pending), None)
