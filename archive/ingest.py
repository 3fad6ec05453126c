"""Durable ingest of a document version: intent → object → index row + audit.

A version is acknowledged (an :class:`IngestReceipt` returned) only after

1. its intent is committed in ``pending_ingests`` (key, sha256, metadata),
2. its object is stored (write-once, sha256 checked, WORM lock), and
3. its index rows and audit event are committed in one transaction, which
   also removes the intent.

A crash between steps leaves an intent behind; :func:`reconcile` completes
it (object present) or drops it (object never written: nothing was
acknowledged, the caller retries). Ingest is idempotent: the same content for
the same document returns the existing version. ``HSBA_TEST_CRASH_AT=<step>``
(steps: ``after_intent``, ``after_put``, ``before_commit``, ``after_commit``)
makes the process kill itself there; tests only, refused in production.
"""

from __future__ import annotations

import logging
import os
import signal
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archive.audit import AuditChain, AuditRecord
from archive.index import RecordsIndex
from archive.keys import object_key
from archive.models import (
    Document,
    DocumentSigner,
    DocumentVersion,
    PendingIngest,
    Signature,
    Tenant,
)
from archive.retention import RetentionClass, lock_date, retain_until, today_utc
from archive.store import ObjectStore, check_content, sha256_hex
from core.errors import ArchiveError, Conflict

log = logging.getLogger(__name__)
CRASH_STEPS = ("after_intent", "after_put", "before_commit", "after_commit")


@dataclass(frozen=True)
class SignatureRecord:
    """One signature on an archived version (from the signer's report)."""

    field: str
    role: str
    signer_subject: str
    method: str
    level: str
    signed_at: datetime
    practitioner_id: str | None = None
    policy_version: str | None = None


@dataclass(frozen=True)
class DocumentMeta:
    """Index data of a document (patient identifiers are stored for search only)."""

    tenant_id: str
    form_code: str
    form_version: str = "v1"
    patient_ref: str | None = None
    patient_cccd: str | None = None
    patient_bhyt: str | None = None
    encounter_ref: str | None = None
    department: str | None = None
    status: str = "archived"
    retention_class: str = RetentionClass.INPATIENT_10Y.value
    closed_year: int | None = None
    """Year the case closed; None while open (retention then counts from this year)."""
    policy_version: str | None = None
    tenant_name: str | None = None


@dataclass(frozen=True)
class IngestItem:
    document_id: str
    data: bytes
    meta: DocumentMeta
    actor_id: str
    reason: str = "signed"
    media: str = "pdf"
    signatures: Sequence[SignatureRecord] = field(default_factory=tuple)
    last_timestamp_expiry: datetime | None = None


@dataclass(frozen=True)
class IngestReceipt:
    document_id: str
    version: int
    object_key: str
    sha256: str
    size: int
    duplicate: bool
    """True when this content was already archived for the document (idempotent retry)."""
    version_id: str | None = None
    """The store's version id of the locked object (S3), as the index records it."""


def _crash_point(step: str) -> None:
    if os.environ.get("HSBA_TEST_CRASH_AT") == step:
        if os.environ.get("HSBA_ENV") == "production":
            log.error("HSBA_TEST_CRASH_AT ignored in production")
            return
        os.kill(os.getpid(), signal.SIGKILL)


def _payload(item: IngestItem) -> dict[str, Any]:
    return {
        "meta": asdict(item.meta),
        "actor_id": item.actor_id,
        "reason": item.reason,
        "media": item.media,
        "signatures": [{**asdict(s), "signed_at": s.signed_at.isoformat()}
                       for s in item.signatures],
        "last_timestamp_expiry": (item.last_timestamp_expiry.isoformat()
                                  if item.last_timestamp_expiry else None),
        "intent_at": datetime.now(UTC).isoformat(),
    }


def _retain(meta: dict[str, Any]) -> date | None:
    year = meta.get("closed_year") or today_utc().year
    return retain_until(meta["retention_class"], int(year))


class Archiver:
    """Stores document versions durably: one store, one records index, one audit chain."""

    def __init__(self, index: RecordsIndex, store: ObjectStore,
                 audit: AuditChain | None = None) -> None:
        self.index = index
        self.store = store
        self.audit = audit or AuditChain(index.engine)

    # -- step 1: intent -----------------------------------------------------------------
    def _record_intents(self, items: Sequence[IngestItem]) -> list[PendingIngest | IngestReceipt]:
        for attempt in range(5):
            try:
                with self.index.sessions() as s, s.begin():
                    return self._intents(s, items)
            except IntegrityError:
                if attempt == 4:
                    raise Conflict("archive.version_race",
                                   "Xung đột số phiên bản khi lưu trữ, hãy thử lại.",
                                   "Version number race while archiving; retry.") from None
        raise AssertionError("unreachable")

    def _intents(self, s: Session, items: Sequence[IngestItem]
                 ) -> list[PendingIngest | IngestReceipt]:
        """Intents for a batch with a fixed number of queries, whatever its size."""
        ids = sorted({it.document_id for it in items})
        versions = {(v.document_id, v.sha256, v.media): v for v in s.execute(
            select(DocumentVersion).where(DocumentVersion.document_id.in_(ids))).scalars()}
        pendings = list(s.execute(select(PendingIngest)
                                  .where(PendingIngest.document_id.in_(ids))).scalars())
        by_sha = {(p.document_id, p.sha256): p for p in pendings}
        top: dict[str, int] = {}
        for p in pendings:
            top[p.document_id] = max(top.get(p.document_id, 0), p.n)
        docs = {d.id: d for d in s.execute(select(Document).where(Document.id.in_(ids)))
                .scalars()}
        now = datetime.now(UTC)
        out: list[PendingIngest | IngestReceipt] = []
        for it in items:
            digest = sha256_hex(it.data)
            same = versions.get((it.document_id, digest, it.media))
            if same is not None:
                out.append(IngestReceipt(it.document_id, same.n, same.object_key, digest,
                                         same.size, True, same.version_id))
                continue
            pending = by_sha.get((it.document_id, digest))
            if pending is not None:
                out.append(pending)
                continue
            doc = docs.get(it.document_id)
            n = max(doc.current_version if doc else 0, top.get(it.document_id, 0)) + 1
            top[it.document_id] = n
            ym = (doc.key_year, doc.key_month) if doc else (now.year, now.month)
            key = object_key(it.meta.tenant_id, ym, it.document_id, n, digest, it.media)
            p = PendingIngest(id=uuid.uuid4().hex, document_id=it.document_id, n=n,
                              tenant_id=it.meta.tenant_id, object_key=key, sha256=digest,
                              size=len(it.data), state="intent", payload=_payload(it),
                              created_at=now)
            p.fresh = True  # type: ignore[attr-defined]  # created by this call, not a retry
            s.add(p)
            by_sha[(it.document_id, digest)] = p
            out.append(p)
        s.flush()
        return out

    # -- step 2: object -----------------------------------------------------------------
    def _store(self, p: PendingIngest, data: bytes) -> str | None:
        """Put the object; return the store's version id of the locked write."""
        until = lock_date(_retain(p.payload["meta"]))
        fresh = bool(getattr(p, "fresh", False))
        try:
            # A fresh intent's key (sha256 in it) cannot exist yet: skip the store's check.
            return self.store.put(p.object_key, data, retain_until=until,
                                  check_exists=not fresh).version_id
        except ArchiveError as e:
            if e.code != "archive.locked" or not self.store.exists(p.object_key):
                raise
            # Stored by an earlier attempt (same key, same sha256): check it is intact.
            return _stored_version(self.store, p)

    # -- step 3: rows + audit -------------------------------------------------------------
    def _commit(self, s: Session, p: PendingIngest, version_id: str | None) -> IngestReceipt:
        """Index rows and audit event for one intent whose object is stored (idempotent)."""
        return self._commit_many(s, [p], {p.id: version_id})[0]

    def _commit_many(self, s: Session, batch: Sequence[PendingIngest],
                     version_ids: dict[str, str | None]) -> list[IngestReceipt]:
        """Index rows and audit events for stored intents, in the caller's transaction.

        ``version_ids``: the store's version id of each intent's locked object.
        A fixed number of queries per batch; rows of one table go in one flush.
        """
        keys = [p.object_key for p in batch]
        existing = {v.object_key: v for v in s.execute(
            select(DocumentVersion).where(DocumentVersion.object_key.in_(keys))).scalars()}
        tenant_ids = {p.payload["meta"]["tenant_id"] for p in batch}
        known_tenants = set(s.execute(select(Tenant.id).where(Tenant.id.in_(tenant_ids)))
                            .scalars())
        new_tenants = {p.payload["meta"]["tenant_id"]: p.payload["meta"].get("tenant_name")
                       for p in batch if p.payload["meta"]["tenant_id"] not in known_tenants}
        for t, name in new_tenants.items():  # a concurrent first ingest may add it first
            try:
                with s.begin_nested():
                    s.add(Tenant(id=t, name=name or t))
            except IntegrityError:
                pass
        doc_ids = sorted({p.document_id for p in batch})
        docs = {d.id: d for d in s.execute(select(Document).where(Document.id.in_(doc_ids)))
                .scalars()}
        signers_known: set[tuple[str, str]] = set(s.execute(
            select(DocumentSigner.document_id, DocumentSigner.signer)
            .where(DocumentSigner.document_id.in_(doc_ids))).tuples())
        now = datetime.now(UTC)
        receipts: list[IngestReceipt] = []
        audits: list[AuditRecord] = []
        rows: list[Any] = []
        for p in batch:
            done = existing.get(p.object_key)
            if done is not None:
                s.delete(p)
                receipts.append(IngestReceipt(p.document_id, done.n, p.object_key, p.sha256,
                                              p.size, True, done.version_id))
                continue
            pl = p.payload
            meta = pl["meta"]
            ts_exp = (datetime.fromisoformat(pl["last_timestamp_expiry"])
                      if pl.get("last_timestamp_expiry") else None)
            doc = docs.get(p.document_id)
            created = doc is None
            if doc is None:
                doc = Document(
                    id=p.document_id, tenant_id=meta["tenant_id"], key_year=now.year,
                    key_month=now.month, current_version=0, legal_hold=False,
                    retention_class=meta["retention_class"], retain_until=_retain(meta),
                    created_at=now, updated_at=now,
                )
                docs[p.document_id] = doc
                s.add(doc)
            for name in ("patient_ref", "patient_cccd", "patient_bhyt", "encounter_ref",
                         "form_code", "form_version", "department", "status", "closed_year",
                         "policy_version"):
                value = meta.get(name)
                if value is not None or created:
                    setattr(doc, name, value)
            doc.current_version = max(doc.current_version, p.n)
            if ts_exp is not None and p.n >= doc.current_version:
                doc.last_timestamp_expiry = ts_exp
            rows.append(DocumentVersion(
                document_id=p.document_id, n=p.n, media=pl.get("media", "pdf"), sha256=p.sha256,
                object_key=p.object_key, version_id=version_ids.get(p.id), size=p.size,
                reason=pl["reason"],
                last_timestamp_expiry=ts_exp, created_at=now))
            for sig in pl["signatures"]:
                rows.append(Signature(
                    document_id=p.document_id, version_n=p.n, field=sig["field"],
                    role=sig["role"], signer_subject=sig["signer_subject"],
                    practitioner_id=sig.get("practitioner_id"), method=sig["method"],
                    level=sig["level"], signed_at=datetime.fromisoformat(sig["signed_at"]),
                    policy_version=sig.get("policy_version")))
                for value in (sig.get("practitioner_id"), sig["signer_subject"]):
                    if value and (p.document_id, value) not in signers_known:
                        signers_known.add((p.document_id, value))
                        rows.append(DocumentSigner(tenant_id=doc.tenant_id, signer=value,
                                                   created_at=doc.created_at,
                                                   document_id=p.document_id))
            s.delete(p)
            audits.append(AuditRecord(
                actor_id=pl["actor_id"], action="create" if created else "archive",
                object_id=p.document_id, tenant_id=meta["tenant_id"],
                details={"version": p.n, "sha256": p.sha256, "object_key": p.object_key,
                         "reason": pl["reason"], "form_code": meta["form_code"]}))
            receipts.append(IngestReceipt(p.document_id, p.n, p.object_key, p.sha256, p.size,
                                          False, version_ids.get(p.id)))
        s.flush()  # documents before the rows that reference them
        s.add_all(rows)
        s.flush()
        if audits:
            self.audit.append_many(audits, session=s)
        return receipts

    # -- public ---------------------------------------------------------------------------
    def archive_document(self, item: IngestItem) -> IngestReceipt:
        """Store one version durably; returns only once it is acknowledged."""
        return self.archive_documents([item], max_workers=1)[0]

    def archive_documents(self, items: Sequence[IngestItem], *,
                          max_workers: int = 8) -> list[IngestReceipt]:
        """A batch: one intent transaction, parallel puts, one commit for all rows."""
        return self._finish(items, *self._prepare(items, max_workers))

    def archive_stream(self, items: Sequence[IngestItem], *, batch_size: int = 50,
                       max_workers: int = 8) -> list[IngestReceipt]:
        """Many documents in batches, committing batch k while batch k+1 is being stored.

        Each batch is acknowledged only once committed, as in :meth:`archive_documents`.
        """
        out: list[IngestReceipt] = []
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hsba-commit") as committer:
            previous: Any = None
            for start in range(0, len(items), batch_size):
                chunk = items[start:start + batch_size]
                prepared = self._prepare(chunk, max_workers)
                if previous is not None:
                    out.extend(previous.result())
                previous = committer.submit(self._finish, chunk, *prepared)
            if previous is not None:
                out.extend(previous.result())
        return out

    def _prepare(self, items: Sequence[IngestItem], max_workers: int
                 ) -> tuple[list[PendingIngest | IngestReceipt], list[tuple[int, PendingIngest]],
                            dict[str, str | None]]:
        """Steps 1 and 2: intents committed, objects stored (their version ids by intent)."""
        results = self._record_intents(items)
        _crash_point("after_intent")
        todo = [(i, r) for i, r in enumerate(results) if isinstance(r, PendingIngest)]
        if max_workers > 1 and len(todo) > 1:
            with ThreadPoolExecutor(max_workers=min(max_workers, len(todo))) as pool:
                vids = list(pool.map(lambda ir: self._store(ir[1], items[ir[0]].data), todo))
        else:
            vids = [self._store(p, items[i].data) for i, p in todo]
        _crash_point("after_put")
        return results, todo, {p.id: vid for (_, p), vid in zip(todo, vids, strict=True)}

    def _finish(self, items: Sequence[IngestItem], results: list[PendingIngest | IngestReceipt],
                todo: list[tuple[int, PendingIngest]], version_ids: dict[str, str | None]
                ) -> list[IngestReceipt]:
        """Step 3: index rows and audit events of the stored objects, one transaction."""
        receipts: list[IngestReceipt | None] = [r if isinstance(r, IngestReceipt) else None
                                                for r in results]
        with self.index.sessions() as s, s.begin():
            live = {r.id: r for r in s.execute(select(PendingIngest).where(
                PendingIngest.id.in_([p.id for _, p in todo]))).scalars()}
            gone = [(i, p) for i, p in todo if p.id not in live]
            if gone:  # completed meanwhile by reconcile
                done = {v.object_key: v for v in s.execute(select(DocumentVersion).where(
                    DocumentVersion.object_key.in_([p.object_key for _, p in gone]))).scalars()}
                for i, p in gone:
                    v = done[p.object_key]
                    receipts[i] = IngestReceipt(p.document_id, v.n, v.object_key, v.sha256,
                                                v.size, True, v.version_id)
            mine = [(i, live[p.id]) for i, p in todo if p.id in live]
            committed = self._commit_many(s, [r for _, r in mine], version_ids)
            for (i, _), receipt in zip(mine, committed, strict=True):
                receipts[i] = receipt
            _crash_point("before_commit")
        _crash_point("after_commit")
        out = [r for r in receipts if r is not None]
        if len(out) != len(items):
            raise ArchiveError("archive.ingest_incomplete", "Lưu trữ chưa hoàn tất.",
                               "Ingest incomplete.")
        return out


def _stored_version(store: ObjectStore, p: PendingIngest) -> str | None:
    """The version id of an intent's object stored by an earlier attempt, checked intact."""
    stored = store.stat(p.object_key)  # the key's original (locked) version
    check_content(p.object_key, store.get(p.object_key, stored.version_id), p.sha256)
    return stored.version_id


@dataclass(frozen=True)
class ReconcileReport:
    completed: tuple[str, ...]
    abandoned: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"completed": list(self.completed), "abandoned": list(self.abandoned)}


def reconcile(archiver: Archiver, actor_id: str = "system:reconcile", *,
              min_age_s: float = 300.0) -> ReconcileReport:
    """Finish or drop every pending intent (idempotent; safe to run any time).

    An intent whose object is stored (and matches its sha256) gets its index
    rows and audit event; one whose object was never written and that is older
    than ``min_age_s`` (so not an ingest still in flight) is dropped: it was
    never acknowledged, so its caller retries.
    """
    from datetime import timedelta

    cutoff = datetime.now(UTC) - timedelta(seconds=min_age_s)
    completed, abandoned = [], []
    with archiver.index.sessions() as s:
        ids = list(s.execute(select(PendingIngest.id).order_by(PendingIngest.created_at))
                   .scalars())
    for pid in ids:
        with archiver.index.sessions() as s, s.begin():
            p = s.get(PendingIngest, pid)
            if p is None:
                continue
            if archiver.store.exists(p.object_key):
                archiver._commit(s, p, _stored_version(archiver.store, p))
                completed.append(p.object_key)
            elif p.created_at <= cutoff:
                s.delete(p)
                abandoned.append(p.object_key)
    if completed or abandoned:
        archiver.audit.append(AuditRecord(actor_id=actor_id, action="reconcile",
                                          details={"completed": len(completed),
                                                   "abandoned": len(abandoned)}))
    return ReconcileReport(tuple(completed), tuple(abandoned))
