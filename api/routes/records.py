"""Archive search and audit queries (paginated), and "who viewed this record"."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import PrincipalDep, ServicesDep, authorize
from api.routes.documents import DocId, in_pool
from workflow.access import RecordRef

router = APIRouter(prefix="/api/v1", tags=["archive", "audit"])


class ArchivedDocument(BaseModel):
    id: str
    form_code: str
    form_version: str
    department: str | None = None
    status: str
    retention_class: str
    retain_until: str | None = None
    legal_hold: bool
    current_version: int
    policy_version: str | None = None
    created_at: datetime


class ArchivePage(BaseModel):
    items: list[ArchivedDocument]
    next_cursor: str | None = None


class AuditEventOut(BaseModel):
    seq: int
    at: datetime
    actor_id: str
    action: str
    object_id: str | None = None
    details: dict[str, Any]
    hash: str


class AuditPage(BaseModel):
    items: list[AuditEventOut]
    next_after_seq: int | None = None


class ViewerOut(BaseModel):
    at: datetime
    actor_id: str
    action: str


_ERR: dict[int | str, dict[str, Any]] = {401: {"description": "Not authenticated"},
                                         403: {"description": "Refused by policy"},
                                         422: {"description": "Invalid input"}}


@router.get("/archive/documents", response_model=ArchivePage, responses=_ERR,
            summary="Search the archive (newest first, cursor pagination)")
async def search_archive(
    principal: PrincipalDep, services: ServicesDep,
    patient_identifier: Annotated[str | None, Query(max_length=32,
                                                    description="CCCD or BHYT card")] = None,
    patient_ref: Annotated[str | None, Query(max_length=64)] = None,
    encounter_ref: Annotated[str | None, Query(max_length=64)] = None,
    form_code: Annotated[str | None, Query(max_length=64)] = None,
    department: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=32)] = None,
    signer: Annotated[str | None, Query(max_length=256)] = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=256)] = None,
) -> ArchivePage:
    authorize(services, principal, "view", RecordRef(tenant=principal.tenant))
    cccd = bhyt = None
    if patient_identifier:
        if patient_identifier.isdigit():
            cccd = patient_identifier
        else:
            bhyt = patient_identifier.upper()
    page = await in_pool(
        services, services.index.search, principal.tenant, patient_cccd=cccd,
        patient_bhyt=bhyt, patient_ref=patient_ref, encounter_ref=encounter_ref,
        form_code=form_code, department=department, status=status, signer=signer,
        created_from=created_from, created_to=created_to, limit=limit, cursor=cursor)
    services.trail.record("view", actor=principal,
                          details={"search": True, "results": len(page.items)})
    return ArchivePage(items=[ArchivedDocument(
        id=d.id, form_code=d.form_code, form_version=d.form_version, department=d.department,
        status=d.status, retention_class=d.retention_class,
        retain_until=d.retain_until.isoformat() if d.retain_until else None,
        legal_hold=d.legal_hold, current_version=d.current_version,
        policy_version=d.policy_version, created_at=d.created_at) for d in page.items],
        next_cursor=page.next_cursor)


@router.get("/audit/events", response_model=AuditPage, responses=_ERR,
            summary="The hospital's audit events (hash-chained), oldest first")
async def audit_events(
    principal: PrincipalDep, services: ServicesDep,
    after_seq: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    object_id: Annotated[str | None, Query(max_length=64)] = None,
) -> AuditPage:
    authorize(services, principal, "view", RecordRef(tenant=principal.tenant))

    def _page() -> tuple[list[Any], int | None]:
        out: list[Any] = []
        cursor = after_seq
        for _ in range(20):  # bounded scan: another tenant's events are skipped
            batch = services.audit.entries(after_seq=cursor, limit=1000)
            if not batch:
                return out, None
            for e in batch:
                cursor = e.seq
                if e.tenant_id == principal.tenant and (object_id is None
                                                         or e.object_id == object_id):
                    out.append(e)
                    if len(out) == limit:
                        return out, e.seq
        return out, cursor

    items, nxt = await in_pool(services, _page)
    return AuditPage(items=[AuditEventOut(seq=e.seq, at=e.at, actor_id=e.actor_id,
                                          action=e.action, object_id=e.object_id,
                                          details=e.details, hash=e.hash) for e in items],
                     next_after_seq=nxt)


@router.get("/documents/{document_id}/viewers", response_model=list[ViewerOut],
            responses={**_ERR, 404: {"description": "Not found"}},
            summary="Who viewed, printed or exported this record, and when")
async def viewers(document_id: DocId, principal: PrincipalDep,
                  services: ServicesDep) -> list[ViewerOut]:
    await in_pool(services, services.documents.get, principal, document_id, audit=False)
    rows = await in_pool(services, services.audit.who_viewed, document_id)
    return [ViewerOut(at=r.at, actor_id=r.actor_id, action=r.action) for r in rows
            if r.tenant_id == principal.tenant]
