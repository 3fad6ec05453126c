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
import threading
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archive.audit import AuditChain, AuditRecord
from archive.group_commit import GroupCommit
from archive.index import RecordsIndex
from archive.keys import object_key
from archive.models import Document, DocumentVersion, PendingIngest
from archive.registration import Intent, Registered, register_versions, retain_date
from archive.retention import RetentionClass, lock_date
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
        "meta": dict(vars(item.meta)),
        "actor_id": item.actor_id,
        "reason": item.reason,
        "media": item.media,
        "signatures": [{**vars(s), "signed_at": s.signed_at.isoformat()}
                       for s in item.signatures],
        "last_timestamp_expiry": (item.last_timestamp_expiry.isoformat()
                                  if item.last_timestamp_expiry else None),
        "intent_at": datetime.now(UTC).isoformat(),
    }


def _receipt(r: Registered) -> IngestReceipt:
    p = r.intent
    return IngestReceipt(p.document_id, r.n, p.object_key, p.sha256, p.size, r.duplicate,
                         r.version_id)


class Archiver:
    """Stores document versions durably: one store, one records index, one audit chain."""

    def __init__(self, index: RecordsIndex, store: ObjectStore,
                 audit: AuditChain | None = None) -> None:
        self.index = index
        self.store = store
        self.audit = audit or AuditChain(index.engine)
        self._tenants: set[str] = set()
        """Tenant ids known to be committed (saves a query per batch)."""
        self._puts: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._group: GroupCommit[IngestItem, IngestReceipt] = GroupCommit(
            lambda batch: self.archive_documents(batch, max_workers=min(8, len(batch))))

    # -- step 1: intent -----------------------------------------------------------------
    def _record_intents(self, items: Sequence[IngestItem]) -> list[Intent | IngestReceipt]:
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

    def _intents(self, s: Session, items: Sequence[IngestItem]) -> list[Intent | IngestReceipt]:
        """Intents for a batch with a fixed number of queries, whatever its size."""
        ids = sorted({it.document_id for it in items})
        versions = {(v.document_id, v.sha256, v.media): v for v in s.execute(
            select(DocumentVersion).where(DocumentVersion.document_id.in_(ids))).scalars()}
        pendings = [Intent.of(r) for r in s.execute(
            select(PendingIngest).where(PendingIngest.document_id.in_(ids))).scalars()]
        by_sha = {(p.document_id, p.sha256): p for p in pendings}
        top: dict[str, int] = {}
        for p in pendings:
            top[p.document_id] = max(top.get(p.document_id, 0), p.n)
        docs = {d.id: (d.current_version, d.key_year, d.key_month) for d in s.execute(
            select(Document.id, Document.current_version, Document.key_year, Document.key_month)
            .where(Document.id.in_(ids)))}
        now = datetime.now(UTC)
        out: list[Intent | IngestReceipt] = []
        new: list[Intent] = []
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
            n = max(doc[0] if doc else 0, top.get(it.document_id, 0)) + 1
            top[it.document_id] = n
            ym = (doc[1], doc[2]) if doc else (now.year, now.month)
            key = object_key(it.meta.tenant_id, ym, it.document_id, n, digest, it.media)
            p = Intent(uuid.uuid4().hex, it.document_id, n, it.meta.tenant_id, key, digest,
                       len(it.data), _payload(it), now, fresh=True)
            by_sha[(it.document_id, digest)] = p
            new.append(p)
            out.append(p)
        if new:
            s.execute(insert(PendingIngest), [p.row() for p in new])
        return out

    # -- step 2: object -----------------------------------------------------------------
    def _store(self, p: Intent, data: bytes) -> str | None:
        """Put the object; return the store's version id of the locked write."""
        until = lock_date(retain_date(p.payload["meta"]))
        try:
            # A fresh intent's key (sha256 in it) cannot exist yet: skip the store's check.
            return self.store.put(p.object_key, data, retain_until=until,
                                  check_exists=not p.fresh).version_id
        except ArchiveError as e:
            if e.code != "archive.locked" or not self.store.exists(p.object_key):
                raise
            # Stored by an earlier attempt (same key, same sha256): check it is intact.
            return _stored_version(self.store, p)

    # -- public ---------------------------------------------------------------------------
    def archive_document(self, item: IngestItem) -> IngestReceipt:
        """Store one version durably; returns only once it is acknowledged.

        Concurrent calls share batches (``archive.group_commit``); an idle call runs alone.
        """
        return self._group.submit(item)

    def archive_documents(self, items: Sequence[IngestItem], *,
                          max_workers: int = 8) -> list[IngestReceipt]:
        """A batch: one intent transaction, parallel puts, one commit for all rows.

        The index transaction starts while the objects are being put (its reads, the
        document rows): the version rows are written once every put has returned, and
        the transaction commits only then, as before."""
        results, todo, stored = self._start_puts(items, max_workers)
        resolved: dict[str, str | None] = {}

        def version_ids() -> dict[str, str | None]:
            if len(resolved) < len(todo):
                resolved.update({p.id: f.result() for (_, p), f in zip(todo, stored,
                                                                      strict=True)})
                _crash_point("after_put")
            return resolved

        try:
            return self._finish(items, results, todo, version_ids)
        finally:
            for future in stored:  # a failed transaction leaves no put running behind
                try:
                    future.result()
                except Exception:  # noqa: BLE001,S110 - raised in version_ids / retried
                    pass

    def _start_puts(self, items: Sequence[IngestItem], max_workers: int
                    ) -> tuple[list[Intent | IngestReceipt], list[tuple[int, Intent]],
                               list[Future[str | None]]]:
        """Steps 1 and 2: intents committed, then the objects' puts started (each
        future gives the store's version id of its intent's object)."""
        results = self._record_intents(items)
        _crash_point("after_intent")
        todo = [(i, r) for i, r in enumerate(results) if isinstance(r, Intent)]
        puts = self._put_pool(max_workers)
        return results, todo, [puts.submit(self._store, p, items[i].data) for i, p in todo]

    def _put_pool(self, max_workers: int) -> ThreadPoolExecutor:
        """The threads putting objects while the index transaction is prepared (one pool
        per archiver, created on first use)."""
        with self._pool_lock:
            if self._puts is None:
                self._puts = ThreadPoolExecutor(max(8, max_workers),
                                                thread_name_prefix="hsba-put")
            return self._puts

    def archive_stream(self, items: Sequence[IngestItem], *, batch_size: int = 50,
                       max_workers: int = 8, in_flight: int = 3) -> list[IngestReceipt]:
        """Many documents in pipelined batches.

        While batch k is being stored by one pool of ``max_workers`` put workers
        (kept busy across batches), batch k+1's intents are recorded and batch
        k-1 is committed; at most ``in_flight`` batches are between intent and
        commit. Each batch is acknowledged only once committed, as in
        :meth:`archive_documents`.
        """
        out: list[IngestReceipt] = []
        commits: deque[Future[list[IngestReceipt]]] = deque()
        with ThreadPoolExecutor(max_workers, thread_name_prefix="hsba-put") as puts, \
                ThreadPoolExecutor(1, thread_name_prefix="hsba-commit") as committer:
            for start in range(0, len(items), batch_size):
                if len(commits) >= in_flight:
                    out.extend(commits.popleft().result())
                chunk = items[start:start + batch_size]
                results = self._record_intents(chunk)
                _crash_point("after_intent")
                todo = [(i, r) for i, r in enumerate(results) if isinstance(r, Intent)]
                stored = [puts.submit(self._store, p, chunk[i].data) for i, p in todo]
                commits.append(committer.submit(self._commit_when_stored, chunk, results,
                                                todo, stored))
            while commits:
                out.extend(commits.popleft().result())
        return out

    def _commit_when_stored(self, items: Sequence[IngestItem],
                            results: list[Intent | IngestReceipt], todo: list[tuple[int, Intent]],
                            stored: list[Future[str | None]]) -> list[IngestReceipt]:
        vids = [f.result() for f in stored]
        _crash_point("after_put")
        return self._finish(items, results, todo,
                            {p.id: vid for (_, p), vid in zip(todo, vids, strict=True)})

    def _finish(self, items: Sequence[IngestItem], results: list[Intent | IngestReceipt],
                todo: list[tuple[int, Intent]],
                version_ids: Mapping[str, str | None] | Callable[[], Mapping[str, str | None]]
                ) -> list[IngestReceipt]:
        """Step 3: index rows and audit events of the stored objects, one transaction.

        Removing the intents (DELETE ... RETURNING) tells which are still live; one
        that reconcile completed meanwhile is answered from its version row.
        """
        receipts: list[IngestReceipt | None] = [r if isinstance(r, IngestReceipt) else None
                                                for r in results]
        with self.index.sessions() as s, s.begin():
            live: set[str] = set()
            if todo:
                live = set(s.execute(
                    delete(PendingIngest).where(PendingIngest.id.in_([p.id for _, p in todo]))
                    .returning(PendingIngest.id)
                    .execution_options(synchronize_session=False)).scalars())
            gone = [(i, p) for i, p in todo if p.id not in live]
            if gone:  # completed meanwhile by reconcile
                done = {v.object_key: v for v in s.execute(select(DocumentVersion).where(
                    DocumentVersion.object_key.in_([p.object_key for _, p in gone]))).scalars()}
                for i, p in gone:
                    v = done[p.object_key]
                    receipts[i] = IngestReceipt(p.document_id, v.n, v.object_key, v.sha256,
                                                v.size, True, v.version_id)
            mine = [(i, p) for i, p in todo if p.id in live]
            registered = register_versions(s, self.audit, [p for _, p in mine], version_ids,
                                           known_tenants=self._tenants, check_existing=False)
            for (i, _), r in zip(mine, registered, strict=True):
                receipts[i] = _receipt(r)
            _crash_point("before_commit")
        _crash_point("after_commit")
        out = [r for r in receipts if r is not None]
        if len(out) != len(items):
            raise ArchiveError("archive.ingest_incomplete", "Lưu trữ chưa hoàn tất.",
                               "Ingest incomplete.")
        return out


def _stored_version(store: ObjectStore, p: Intent) -> str | None:
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
                intent = Intent.of(p)
                vid = _stored_version(archiver.store, intent)
                s.delete(p)
                register_versions(s, archiver.audit, [intent], {p.id: vid},
                                  known_tenants=archiver._tenants)
                completed.append(p.object_key)
            elif p.created_at <= cutoff:
                s.delete(p)
                abandoned.append(p.object_key)
    if completed or abandoned:
        archiver.audit.append(AuditRecord(actor_id=actor_id, action="reconcile",
                                          details={"completed": len(completed),
                                                   "abandoned": len(abandoned)}))
    return ReconcileReport(tuple(completed), tuple(abandoned))
