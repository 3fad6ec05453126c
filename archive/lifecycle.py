"""Record lifecycle after archiving: retention changes, legal holds, destruction.

Every change is written to the index and the audit chain in one transaction,
and applied to the WORM lock of every stored version (extended, never
shortened).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.audit import AuditRecord
from archive.index import DocumentInfo, document_info
from archive.ingest import Archiver
from archive.models import DestructionRequest, Document, DocumentVersion, LegalHold
from archive.retention import (
    RetentionClass,
    RetentionRules,
    higher,
    lock_date,
    retain_until,
    today_utc,
)
from core.errors import Conflict, Forbidden, NotFound


@dataclass(frozen=True)
class ExpiredRecord:
    document_id: str
    tenant_id: str
    retention_class: str
    retain_until: date


def _doc(s: Session, document_id: str) -> Document:
    d = s.get(Document, document_id)
    if d is None:
        raise NotFound("index.document_not_found", f"Không tìm thấy hồ sơ {document_id}.",
                       f"Document {document_id} not found.")
    return d


def _objects(s: Session, document_id: str) -> list[tuple[str, str | None]]:
    """(object key, version id recorded at ingest) of every version of a document."""
    return list(s.execute(select(DocumentVersion.object_key, DocumentVersion.version_id)
                          .where(DocumentVersion.document_id == document_id)).tuples())


class RecordLifecycle:
    def __init__(self, archiver: Archiver, rules: RetentionRules | None = None) -> None:
        self.archiver = archiver
        self.rules = rules or RetentionRules()

    # -- retention ------------------------------------------------------------------------
    def apply_event(self, document_id: str, event: str, actor_id: str,
                    closed_year: int | None = None) -> DocumentInfo:
        """A clinical event (death, medical incident...) or the case closing.

        The class is only ever raised; the lock on each version is extended.
        """
        with self.archiver.index.sessions() as s, s.begin():
            d = _doc(s, document_id)
            old_cls, old_until = d.retention_class, d.retain_until
            new_cls = self.rules.raised(d.retention_class, event) if event != "closed" \
                else RetentionClass(d.retention_class)
            if closed_year is not None:
                d.closed_year = max(closed_year, d.closed_year or closed_year)
            year = d.closed_year or today_utc().year
            until = retain_until(new_cls, year)
            if old_until is not None and until is not None and until < old_until:
                until = old_until  # never shortened
            d.retention_class = higher(old_cls, new_cls).value
            d.retain_until = until
            for key, vid in _objects(s, document_id):
                self.archiver.store.extend_retention(key, lock_date(until), vid)
            self.archiver.audit.append(AuditRecord(
                actor_id=actor_id, action="retention_change", object_id=document_id,
                tenant_id=d.tenant_id,
                details={"event": event, "from": old_cls, "to": d.retention_class,
                         "retain_until": until.isoformat() if until else "permanent",
                         "previous_until": old_until.isoformat() if old_until else None}),
                session=s)
            s.flush()
            return document_info(d)

    # -- legal hold -----------------------------------------------------------------------
    def place_hold(self, document_id: str, actor_id: str, reason: str) -> None:
        with self.archiver.index.sessions() as s, s.begin():
            d = _doc(s, document_id)
            s.add(LegalHold(document_id=document_id, reason=reason, placed_by=actor_id))
            d.legal_hold = True
            for key, vid in _objects(s, document_id):
                self.archiver.store.set_legal_hold(key, True, vid)
            self.archiver.audit.append(AuditRecord(actor_id, "legal_hold", document_id,
                                                   d.tenant_id, {"on": True}), session=s)

    def release_hold(self, document_id: str, actor_id: str) -> None:
        with self.archiver.index.sessions() as s, s.begin():
            d = _doc(s, document_id)
            now = datetime.now(UTC)
            for h in s.execute(select(LegalHold).where(LegalHold.document_id == document_id,
                                                       LegalHold.released_at.is_(None))).scalars():
                h.released_at, h.released_by = now, actor_id
            d.legal_hold = False
            for key, vid in _objects(s, document_id):
                self.archiver.store.set_legal_hold(key, False, vid)
            self.archiver.audit.append(AuditRecord(actor_id, "legal_hold", document_id,
                                                   d.tenant_id, {"on": False}), session=s)

    # -- expiry and destruction -----------------------------------------------------------
    def expiry_report(self, on: date | None = None, tenant_id: str | None = None
                      ) -> list[ExpiredRecord]:
        """Records past their retention date, not on legal hold, not destroyed."""
        on = on or today_utc()
        conds = [Document.retain_until.is_not(None), Document.retain_until < on,
                 Document.legal_hold.is_(False), Document.status != "destroyed"]
        if tenant_id:
            conds.append(Document.tenant_id == tenant_id)
        with self.archiver.index.sessions() as s:
            rows = s.execute(select(Document).where(*conds).order_by(Document.retain_until))
            return [ExpiredRecord(d.id, d.tenant_id, d.retention_class, d.retain_until)
                    for d in rows.scalars() if d.retain_until is not None]

    def _check_expired(self, d: Document, on: date) -> None:
        if d.legal_hold:
            raise Forbidden("retention.legal_hold", "Hồ sơ đang bị phong tỏa pháp lý.",
                            "The record is under legal hold.")
        if d.retain_until is None or d.retain_until >= on:
            raise Forbidden("retention.not_expired",
                            f"Hồ sơ chưa hết thời hạn lưu trữ ({d.retain_until or 'vĩnh viễn'}).",
                            f"The record is retained until {d.retain_until or 'forever'}.")

    def request_destruction(self, document_id: str, actor_id: str,
                            on: date | None = None) -> int:
        with self.archiver.index.sessions() as s, s.begin():
            d = _doc(s, document_id)
            self._check_expired(d, on or today_utc())
            req = DestructionRequest(document_id=document_id, requested_by=actor_id)
            s.add(req)
            s.flush()
            self.archiver.audit.append(AuditRecord(actor_id, "destruction_request", document_id,
                                                   d.tenant_id, {"request": req.id}), session=s)
            return req.id

    def approve_destruction(self, request_id: int, approver_id: str,
                            on: date | None = None) -> list[str]:
        """Second person approves; the objects are deleted and the row marked destroyed."""
        with self.archiver.index.sessions() as s, s.begin():
            req = s.get(DestructionRequest, request_id)
            if req is None or req.status != "requested":
                raise Conflict("retention.no_request", "Không có yêu cầu hủy đang chờ.",
                               "No pending destruction request.")
            if req.requested_by == approver_id:
                raise Forbidden("retention.same_person",
                                "Người phê duyệt hủy phải khác người đề nghị.",
                                "Destruction must be approved by a different person.")
            d = _doc(s, req.document_id)
            self._check_expired(d, on or today_utc())
            now = datetime.now(UTC)
            req.approved_by, req.approved_at, req.status = approver_id, now, "approved"
            self.archiver.audit.append(AuditRecord(approver_id, "destruction_approve", d.id,
                                                   d.tenant_id, {"request": request_id}),
                                       session=s)
            objects = _objects(s, d.id)
            keys = [key for key, _ in objects]
            for key, vid in objects:
                if self.archiver.store.exists(key):
                    self.archiver.store.delete(key, vid)
            req.executed_at, req.status, d.status = now, "executed", "destroyed"
            self.archiver.audit.append(AuditRecord(
                approver_id, "destroy", d.id, d.tenant_id,
                {"request": request_id, "requested_by": req.requested_by,
                 "objects": len(keys)}), session=s)
            return keys
