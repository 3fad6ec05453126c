"""Lists for the pages: documents waiting for me (or for a patient at a
kiosk) and what I signed.

ADAPTER: the workflow has no listing yet, so this reads its document tables
read-only and asks the workflow's access gate about every row (nothing is
shown that the access policy would refuse). It belongs in ``workflow/``
(``DocumentWorkflow.inbox`` / ``.signed_by``) when that lands.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from workflow.db import documents, signature_requests
from workflow.signing import PATIENT_ROLES, STAFF_SIGNER_ROLES

MAX_ROWS = 500


@dataclass(frozen=True)
class InboxFilters:
    department: str | None = None
    form_code: str | None = None
    patient_ref: str | None = None
    date_from: date | None = None
    date_to: date | None = None


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
    """The pending step this person would sign."""
    signed_at: datetime | None = None


def _utc(v: datetime | None) -> datetime | None:
    return v if v is None or v.tzinfo else v.replace(tzinfo=UTC)


def _rows(services: Any, tenant: str, roles: tuple[str, ...], status: str,
          f: InboxFilters) -> list[Any]:
    q = (select(documents, signature_requests.c.role.label("step_role"))
         .join(signature_requests, signature_requests.c.document_id == documents.c.id)
         .where(documents.c.tenant == tenant, documents.c.status == "awaiting_signatures",
                signature_requests.c.status == status, signature_requests.c.role.in_(roles))
         .order_by(documents.c.created_at.desc()).limit(MAX_ROWS))
    if f.department:
        q = q.where(documents.c.department == f.department)
    if f.form_code:
        q = q.where(documents.c.form_code == f.form_code)
    if f.patient_ref:
        q = q.where(documents.c.patient_ref == f.patient_ref)
    if f.date_from:
        q = q.where(documents.c.created_at >= datetime.combine(f.date_from, time.min, UTC)
                    - timedelta(hours=7))
    if f.date_to:
        q = q.where(documents.c.created_at < datetime.combine(f.date_to, time.min, UTC)
                    + timedelta(hours=17))
    with services.engine.connect() as conn:
        return list(conn.execute(q).all())


def _item(row: Any) -> InboxItem:
    return InboxItem(id=row.id, form_code=row.form_code, department=row.department,
                     patient_ref=row.patient_ref, created_at=_utc(row.created_at),  # type: ignore[arg-type]
                     status=row.status, sha256=row.sha256, version=row.version,
                     step_role=row.step_role)


def awaiting_my_signature(services: Any, actor: Any, f: InboxFilters) -> list[InboxItem]:
    """Documents with a pending step my role signs, that the access policy lets me sign
    and whose signing order has reached my step."""
    roles = STAFF_SIGNER_ROLES.get(actor.role, ())
    if not roles:
        return []
    out: dict[str, InboxItem] = {}
    for row in _rows(services, actor.tenant, roles, "pending", f):
        if row.id in out:
            continue
        if not services.access.decide(actor, "sign", services.documents.record_ref(row)).allowed:
            continue
        policy = services.policies.signing(row.form_code, row.form_version)
        signed = services.documents._signed_roles(row.id)
        nxt = {r for s in policy.next_steps(signed) for r in s.accepted_roles}
        if row.step_role not in nxt:
            continue
        out[row.id] = _item(row)
    return list(out.values())


def awaiting_patient(services: Any, actor: Any) -> list[InboxItem]:
    """For a kiosk: its department's documents whose next step is the patient's."""
    out: dict[str, InboxItem] = {}
    for row in _rows(services, actor.tenant, PATIENT_ROLES, "pending",
                     InboxFilters(department=actor.department)):
        if row.id in out:
            continue
        policy = services.policies.signing(row.form_code, row.form_version)
        signed = services.documents._signed_roles(row.id)
        nxt = {r for s in policy.next_steps(signed) for r in s.accepted_roles}
        if row.step_role in nxt:
            out[row.id] = _item(row)
    return list(out.values())


def signed_by_me(services: Any, actor: Any, limit: int = 200) -> list[InboxItem]:
    q = (select(documents, signature_requests.c.role.label("step_role"),
                signature_requests.c.signed_at)
         .join(signature_requests, signature_requests.c.document_id == documents.c.id)
         .where(documents.c.tenant == actor.tenant,
                signature_requests.c.signed_by == actor.subject)
         .order_by(signature_requests.c.signed_at.desc()).limit(limit))
    with services.engine.connect() as conn:
        rows = conn.execute(q).all()
    return [InboxItem(id=r.id, form_code=r.form_code, department=r.department,
                      patient_ref=r.patient_ref, created_at=_utc(r.created_at),  # type: ignore[arg-type]
                      status=r.status, sha256=r.sha256, version=r.version,
                      step_role=r.step_role, signed_at=_utc(r.signed_at)) for r in rows]


def my_next_step(services: Any, actor: Any, view: Any) -> str | None:
    """The role this person would sign now on this document, else None (the sign
    form is shown only then)."""
    if view.status != "awaiting_signatures":
        return None
    roles = STAFF_SIGNER_ROLES.get(actor.role, ())
    policy = services.policies.signing(view.form_code, view.form_version)
    signed = services.documents._signed_roles(view.id)  # private: see module doc
    nxt = [r for s in policy.next_steps(signed) for r in s.accepted_roles if r in roles]
    pending = {r.role for r in view.signature_requests if r.status == "pending"}
    return next((r for r in nxt if r in pending), None)
