"""The records index: what is archived, for whom, signed by whom.

``RecordsIndex(engine)`` answers searches (patient CCCD / BHYT / reference,
encounter, form, department, status, signer, date range) with keyset
pagination on ``(created_at, id)`` descending, using the composite indexes
declared in ``archive.models``. Values returned are frozen dataclasses; ORM
rows stay inside ``archive/``. Ingest lives in ``archive.ingest``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, String, literal, select, tuple_
from sqlalchemy.orm import Session, sessionmaker

from archive.db import session_factory
from archive.models import (
    Document,
    DocumentSigner,
    DocumentVersion,
    Signature,
    UtcDateTime,
)
from core.errors import InvalidInput, NotFound


@dataclass(frozen=True)
class DocumentInfo:
    id: str
    tenant_id: str
    patient_ref: str | None
    encounter_ref: str | None
    form_code: str
    form_version: str
    department: str | None
    status: str
    retention_class: str
    closed_year: int | None
    retain_until: date | None
    legal_hold: bool
    current_version: int
    policy_version: str | None
    created_at: datetime
    row_version: int
    last_timestamp_expiry: datetime | None


@dataclass(frozen=True)
class VersionInfo:
    document_id: str
    n: int
    media: str
    sha256: str
    object_key: str
    size: int
    reason: str
    created_at: datetime
    last_timestamp_expiry: datetime | None
    version_id: str | None = None
    """The store's version id of the locked object: pass it to ``store.get(key, version_id)``."""


@dataclass(frozen=True)
class SignatureInfo:
    document_id: str
    version_n: int
    field: str
    role: str
    signer_subject: str
    practitioner_id: str | None
    method: str
    level: str
    signed_at: datetime
    policy_version: str | None


@dataclass(frozen=True)
class SearchPage:
    items: tuple[DocumentInfo, ...]
    next_cursor: str | None


def document_info(d: Document) -> DocumentInfo:
    return DocumentInfo(
        d.id, d.tenant_id, d.patient_ref, d.encounter_ref, d.form_code, d.form_version,
        d.department, d.status, d.retention_class, d.closed_year, d.retain_until, d.legal_hold,
        d.current_version, d.policy_version, d.created_at, d.row_version,
        d.last_timestamp_expiry,
    )


def version_info(v: DocumentVersion) -> VersionInfo:
    return VersionInfo(v.document_id, v.n, v.media, v.sha256, v.object_key, v.size, v.reason,
                       v.created_at, v.last_timestamp_expiry, v.version_id)


def _encode_cursor(created_at: datetime, doc_id: str) -> str:
    raw = json.dumps([created_at.astimezone(UTC).isoformat(), doc_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, doc_id = json.loads(raw)
        return datetime.fromisoformat(at), str(doc_id)
    except (ValueError, TypeError) as e:
        raise InvalidInput("index.bad_cursor", "Con trỏ phân trang không hợp lệ.",
                           "Invalid pagination cursor.") from e


class RecordsIndex:
    """Searches and reads over the records index."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions: sessionmaker[Session] = session_factory(engine)

    def get(self, document_id: str) -> DocumentInfo:
        with self.sessions() as s:
            d = s.get(Document, document_id)
            if d is None:
                raise NotFound("index.document_not_found",
                               f"Không tìm thấy hồ sơ {document_id}.",
                               f"Document {document_id} not found.")
            return document_info(d)

    def versions(self, document_id: str) -> list[VersionInfo]:
        with self.sessions() as s:
            rows = s.execute(select(DocumentVersion)
                             .where(DocumentVersion.document_id == document_id)
                             .order_by(DocumentVersion.n)).scalars()
            return [version_info(v) for v in rows]

    def signatures(self, document_id: str) -> list[SignatureInfo]:
        with self.sessions() as s:
            rows = s.execute(select(Signature).where(Signature.document_id == document_id)
                             .order_by(Signature.signed_at, Signature.id)).scalars()
            return [SignatureInfo(r.document_id, r.version_n, r.field, r.role, r.signer_subject,
                                  r.practitioner_id, r.method, r.level, r.signed_at,
                                  r.policy_version) for r in rows]

    def all_versions(self, after_id: int = 0, limit: int = 1000) -> list[tuple[int, VersionInfo]]:
        """Every stored version, in insertion order (integrity sweeps)."""
        with self.sessions() as s:
            rows = s.execute(select(DocumentVersion).where(DocumentVersion.id > after_id)
                             .order_by(DocumentVersion.id).limit(limit)).scalars()
            return [(v.id, version_info(v)) for v in rows]

    def search(
        self,
        tenant_id: str,
        *,
        patient_cccd: str | None = None,
        patient_bhyt: str | None = None,
        patient_ref: str | None = None,
        encounter_ref: str | None = None,
        form_code: str | None = None,
        department: str | None = None,
        status: str | None = None,
        signer: str | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> SearchPage:
        """Newest first; pass ``next_cursor`` back for the next page.

        ``signer`` matches a practitioner id or a certificate subject.
        """
        if not 1 <= limit <= 500:
            raise InvalidInput("index.bad_limit", "Giới hạn 1..500.", "Limit must be 1..500.")
        conds: list[Any] = [Document.tenant_id == tenant_id]
        for col, value in ((Document.patient_cccd, patient_cccd),
                           (Document.patient_bhyt, patient_bhyt),
                           (Document.patient_ref, patient_ref),
                           (Document.encounter_ref, encounter_ref),
                           (Document.form_code, form_code),
                           (Document.department, department),
                           (Document.status, status)):
            if value is not None:
                conds.append(col == value)
        if created_from is not None:
            conds.append(Document.created_at >= created_from)
        if created_to is not None:
            conds.append(Document.created_at < created_to)
        if signer is not None:
            # Driven by the signer index, in its (created_at, id) order.
            order_at, order_id = DocumentSigner.created_at, DocumentSigner.document_id
            conds += [DocumentSigner.tenant_id == tenant_id, DocumentSigner.signer == signer]
            if created_from is not None:
                conds.append(DocumentSigner.created_at >= created_from)
            if created_to is not None:
                conds.append(DocumentSigner.created_at < created_to)
            base = select(Document).join(DocumentSigner, DocumentSigner.document_id == Document.id)
        else:
            order_at, order_id = Document.created_at, Document.id
            base = select(Document)
        if cursor is not None:
            at, doc_id = _decode_cursor(cursor)
            conds.append(tuple_(order_at, order_id)
                         < tuple_(literal(at, UtcDateTime()), literal(doc_id, String())))
        stmt = base.where(*conds).order_by(order_at.desc(), order_id.desc()).limit(limit + 1)
        with self.sessions() as s:
            rows = list(s.execute(stmt).scalars())
        more = len(rows) > limit
        rows = rows[:limit]
        items = tuple(document_info(d) for d in rows)
        nxt = _encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
        return SearchPage(items, nxt)
