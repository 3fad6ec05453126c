"""Batch signing jobs started from the clinician's page, kept in the database.

One confirmation (signing PIN or TOTP, checked once when the job is created)
authorises every selected document, each bound to the sha256 the clinician saw.
The job stores who asked (tenant + account) and what they saw, never the factor;
its per-document state is in ``wf_batch_jobs`` / ``wf_batch_items``, so any API
process shows its progress to its owner (anyone else: not found).

Who runs it:

- on PostgreSQL, ``hsba worker`` (the durable queue's ``sign_web_batch`` job): one
  worker takes it; a worker killed mid-batch leaves the queue job ``doing``, and the
  queue's ``retry_stalled_jobs`` hands it to another worker, which goes on from the
  stored state;
- on the embedded default (SQLite), a thread of the API process that received it. A
  job whose process died (no heartbeat for :data:`STALE_AFTER`) is shown as
  interrupted to its owner, with a button that resumes the remaining documents
  (:func:`resume_batch`); nothing resumes by itself at start-up.

Each document is signed at most once: an item goes ``waiting`` → ``signing`` (written
before the signature) → ``ok`` | ``failed``; the workflow's own compare-and-set on the
hash the clinician saw refuses a second signature, and an item found ``signing`` after
a crash is first checked for the signature the dead runner already committed (and its
archival finished if the crash came in between).
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.engine import Engine

from core.errors import Conflict, InvalidInput, NotFound
from workflow.db import batch_items, batch_jobs, document_versions, documents, signature_requests
from workflow.signing import factor_error

log = logging.getLogger(__name__)

MAX_DOCUMENTS = 200
"""Documents one confirmation may cover."""
MAX_OPEN_JOBS = 5
"""Unfinished jobs one account may have at once."""
STALE_AFTER = timedelta(minutes=5)
"""A runner silent this long is taken for dead (one document takes seconds)."""
KEEP_FINISHED = timedelta(days=30)
"""Finished jobs are purged after this long (the signed documents stay archived)."""
QUEUE_JOB = "sign_web_batch"
"""The durable queue's job that runs a batch (``workflow.scheduler``)."""


@dataclass(frozen=True)
class BatchItem:
    position: int
    document_id: str
    form_code: str
    sha256: str
    """The hash the clinician saw and confirmed."""
    state: str
    """``waiting``, ``signing``, ``ok`` or ``failed``."""
    status: str | None = None
    error_code: str | None = None
    error_vi: str | None = None
    error_en: str | None = None


@dataclass(frozen=True)
class BatchJob:
    id: str
    tenant: str
    owner: str
    state: str
    """``queued`` (no runner yet), ``running`` or ``finished``."""
    created_at: datetime
    heartbeat_at: datetime | None
    finished_at: datetime | None
    items: tuple[BatchItem, ...]
    interrupted: bool = False
    """Not finished and its runner silent for longer than :data:`STALE_AFTER`."""

    @property
    def finished(self) -> bool:
        return self.state == "finished"

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def ok(self) -> int:
        return sum(1 for i in self.items if i.state == "ok")

    @property
    def failed(self) -> int:
        return sum(1 for i in self.items if i.state == "failed")

    @property
    def done(self) -> int:
        return self.ok + self.failed

    def to_dict(self) -> dict[str, Any]:
        """What the progress page shows (ids, states and error texts; no patient data)."""
        return {"id": self.id, "state": self.state, "total": self.total, "done": self.done,
                "ok": self.ok, "failed": self.failed, "finished": self.finished,
                "interrupted": self.interrupted,
                "items": [{"document_id": i.document_id, "form_code": i.form_code,
                           "state": "waiting" if i.state == "signing" else i.state,
                           "status": i.status, "error_vi": i.error_vi,
                           "error_en": i.error_en} for i in self.items]}


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class BatchStore:
    """The jobs' rows: created by the API, advanced by whoever runs the job (a lease:
    ``runner`` + ``heartbeat_at``)."""

    def __init__(self, engine: Engine, *, stale_after: timedelta = STALE_AFTER,
                 keep_finished: timedelta = KEEP_FINISHED) -> None:
        self.engine = engine
        self.stale_after = stale_after
        self.keep_finished = keep_finished

    def create(self, actor: Any, items: list[tuple[str, str, str]]) -> str:
        """``items``: (document id, sha256 seen, form code). Purges old finished jobs."""
        if not items:
            raise InvalidInput("web.nothing_selected", "Chưa chọn tài liệu nào.",
                               "No document selected.")
        if len(items) > MAX_DOCUMENTS:
            raise InvalidInput("batch.too_many", f"Tối đa {MAX_DOCUMENTS} tài liệu mỗi lượt ký.",
                               f"At most {MAX_DOCUMENTS} documents per batch.")
        self.purge()
        now, job_id = _now(), uuid.uuid4().hex
        with self.engine.begin() as conn:
            open_jobs = conn.execute(select(func.count()).select_from(batch_jobs).where(
                batch_jobs.c.tenant == actor.tenant, batch_jobs.c.owner == actor.subject,
                batch_jobs.c.state != "finished")).scalar_one()
            if open_jobs >= MAX_OPEN_JOBS:
                raise Conflict("batch.too_many_open",
                               "Bạn đang có quá nhiều lượt ký chưa xong; vui lòng chờ.",
                               "You have too many unfinished batches; please wait.")
            conn.execute(insert(batch_jobs).values(
                id=job_id, tenant=actor.tenant, owner=actor.subject, state="queued",
                total=len(items), created_at=now))
            conn.execute(insert(batch_items), [
                {"job_id": job_id, "position": n, "document_id": d, "sha256": sha.lower(),
                 "form_code": f, "state": "waiting", "updated_at": now}
                for n, (d, sha, f) in enumerate(items)])
        return job_id

    def load(self, job_id: str) -> BatchJob | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(batch_jobs).where(batch_jobs.c.id == job_id)).first()
            if row is None:
                return None
            rows = conn.execute(select(batch_items).where(batch_items.c.job_id == job_id)
                                .order_by(batch_items.c.position)).all()
        items = tuple(BatchItem(r.position, r.document_id, r.form_code, r.sha256, r.state,
                                r.status, r.error_code, r.error_vi, r.error_en) for r in rows)
        beat = _utc(row.heartbeat_at) or _utc(row.created_at)
        interrupted = (row.state == "running" and beat is not None
                       and _now() - beat > self.stale_after)
        return BatchJob(row.id, row.tenant, row.owner, row.state, _utc(row.created_at) or _now(),
                        _utc(row.heartbeat_at), _utc(row.finished_at), items, interrupted)

    def get(self, job_id: str, actor: Any) -> BatchJob | None:
        """The job if ``actor`` owns it (same hospital and account), else None."""
        job = self.load(job_id)
        if job is None or job.tenant != actor.tenant or job.owner != actor.subject:
            return None
        return job

    def claim(self, job_id: str, runner: str, *, force: bool = False) -> bool:
        """Take the job's lease: when nobody holds it, or its holder went silent (or
        ``force``: the durable queue already guarantees one runner at a time)."""
        now = _now()
        cond = [batch_jobs.c.id == job_id, batch_jobs.c.state != "finished"]
        if not force:
            cond.append(or_(batch_jobs.c.runner.is_(None), batch_jobs.c.runner == runner,
                            batch_jobs.c.heartbeat_at < now - self.stale_after))
        with self.engine.begin() as conn:
            res = conn.execute(update(batch_jobs).where(*cond).values(
                runner=runner, state="running", heartbeat_at=now))
        return res.rowcount == 1

    def heartbeat(self, job_id: str, runner: str) -> bool:
        """False when another runner took the job over (then stop)."""
        with self.engine.begin() as conn:
            res = conn.execute(update(batch_jobs).where(
                batch_jobs.c.id == job_id, batch_jobs.c.runner == runner,
                batch_jobs.c.state == "running").values(heartbeat_at=_now()))
        return res.rowcount == 1

    def set_item(self, job_id: str, position: int, state: str, *, only_from: str | None = None,
                 **values: Any) -> bool:
        cond = [batch_items.c.job_id == job_id, batch_items.c.position == position]
        if only_from is not None:
            cond.append(batch_items.c.state == only_from)
        with self.engine.begin() as conn:
            res = conn.execute(update(batch_items).where(*cond).values(
                state=state, updated_at=_now(), **values))
        return res.rowcount == 1

    def finish(self, job_id: str, runner: str) -> None:
        now = _now()
        with self.engine.begin() as conn:
            conn.execute(update(batch_jobs).where(
                batch_jobs.c.id == job_id, batch_jobs.c.runner == runner).values(
                state="finished", finished_at=now, heartbeat_at=now))

    def purge(self, now: datetime | None = None) -> int:
        """Delete finished jobs older than ``keep_finished``; returns how many."""
        cutoff = (now or _now()) - self.keep_finished
        with self.engine.begin() as conn:
            old = [r.id for r in conn.execute(select(batch_jobs.c.id).where(
                batch_jobs.c.state == "finished", batch_jobs.c.finished_at < cutoff)
                .limit(1000))]
            if not old:
                return 0
            conn.execute(delete(batch_items).where(batch_items.c.job_id.in_(old)))
            conn.execute(delete(batch_jobs).where(batch_jobs.c.id.in_(old)))
        log.info("purged finished batch jobs", extra={"count": len(old)})
        return len(old)


# --- starting, running, resuming -----------------------------------------------------------
def start_batch(services: Any, store: BatchStore, actor: Any,
                items: list[tuple[str, str, str]], *, pin: str | None,
                totp: str | None) -> str:
    """Check the factor once, store the job, hand it to its runner; returns its id.
    A wrong factor stores and signs nothing."""
    if not services.accounts.check_signing_factor(actor.subject, pin=pin, totp=totp):
        services.trail.record("sign", actor=actor, outcome="refused",
                              details={"reason": "bad_factor", "batch": len(items)})
        raise factor_error()
    job_id = store.create(actor, items)
    log.info("batch job created", extra={"job_id": job_id, "documents": len(items)})
    _dispatch(services, store, job_id)
    return job_id


def resume_batch(services: Any, store: BatchStore, actor: Any, job_id: str) -> None:
    """The owner resumes an interrupted job's remaining documents (embedded default; on
    PostgreSQL the queue retries a job whose worker died)."""
    job = store.get(job_id, actor)
    if job is None:
        raise NotFound("web.no_job", "Không tìm thấy lượt ký.", "No such batch.")
    if job.finished or not job.interrupted or services.queue is not None:
        raise Conflict("batch.not_interrupted", "Lượt ký này không bị gián đoạn.",
                       "This batch is not interrupted.")
    log.info("batch job resumed by its owner", extra={"job_id": job_id})
    _dispatch(services, store, job_id)


def _dispatch(services: Any, store: BatchStore, job_id: str) -> None:
    queue = services.queue
    if queue is not None:
        queue.defer(QUEUE_JOB, batch_id=job_id)
        return
    runner = f"api:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    if not store.claim(job_id, runner):
        raise Conflict("batch.running", "Lượt ký đang chạy.", "The batch is running.")
    threading.Thread(target=_run_in_thread, args=(services, store, job_id, runner),
                     name=f"hsba-web-batch-{job_id[:8]}", daemon=True).start()


def _run_in_thread(services: Any, store: BatchStore, job_id: str, runner: str) -> None:
    try:
        run_batch(services, store, job_id, runner, claimed=True)
    except Exception:  # the job stays unfinished: shown as interrupted, resumable
        log.exception("batch job runner failed", extra={"job_id": job_id})


def run_batch(services: Any, store: BatchStore, job_id: str, runner: str, *,
              force: bool = False, claimed: bool = False) -> dict[str, Any]:
    """Sign the job's remaining documents, one after another, from the stored state.
    Returns a summary (ids and counts)."""
    if not claimed and not store.claim(job_id, runner, force=force):
        return {"job": QUEUE_JOB, "batch_id": job_id, "skipped": "finished or running"}
    job = store.load(job_id)
    assert job is not None
    actor = _actor(services, job)
    for item in job.items:
        if item.state in ("ok", "failed"):
            continue
        if not store.heartbeat(job_id, runner):
            log.warning("batch job taken over by another runner", extra={"job_id": job_id})
            return {"job": QUEUE_JOB, "batch_id": job_id, "skipped": "taken over"}
        try:
            _sign_item(services, store, job_id, item, actor, resumed=item.state == "signing")
        except _ShuttingDown:
            log.info("batch job stopped by a shutdown", extra={"job_id": job_id})
            return {"job": QUEUE_JOB, "batch_id": job_id, "skipped": "shutting down"}
    store.finish(job_id, runner)
    done = store.load(job_id)
    assert done is not None
    log.info("batch job finished", extra={"job_id": job_id, "ok": done.ok,
                                          "failed": done.failed})
    return {"job": QUEUE_JOB, "batch_id": job_id, "ok": done.ok, "failed": done.failed}


class _ShuttingDown(Exception):
    """The signing pool no longer takes work: the rest waits for a resume."""


def _actor(services: Any, job: BatchJob) -> Any:
    """Who signs: the owner's account as it is now (a disabled account signs nothing)."""
    from workflow.access import ActorRef

    account = services.accounts.get(job.owner)
    if account is None or account.tenant != job.tenant:
        return None
    return ActorRef.of(account)


def _sign_item(services: Any, store: BatchStore, job_id: str, item: BatchItem, actor: Any,
               *, resumed: bool) -> None:
    if actor is None:
        store.set_item(job_id, item.position, "failed", error_code="batch.account_disabled",
                       error_vi="Tài khoản ký không còn hoạt động.",
                       error_en="The signing account is no longer active.")
        return
    try:
        if resumed:  # the previous runner died while signing this one: did it land?
            status = _finish_landed_signature(services, actor, item)
            if status is not None:
                store.set_item(job_id, item.position, "ok", status=status)
                return
        store.set_item(job_id, item.position, "signing")  # before the signature can land
        try:
            future = services.executor.submit(
                services.documents.sign, actor, item.document_id,
                expected_sha256=item.sha256, factor_checked=True)
        except RuntimeError as e:  # the process is shutting down: left for a resume
            store.set_item(job_id, item.position, "waiting")
            raise _ShuttingDown from e
        out = future.result()
    except _ShuttingDown:
        raise
    except Exception as e:  # noqa: BLE001 - reported per document
        code = getattr(e, "code", None) or "internal"
        if not getattr(e, "message_vi", None):
            log.error("batch document failed", extra={"job_id": job_id,
                                                      "document_id": item.document_id,
                                                      "error": type(e).__name__})
        store.set_item(job_id, item.position, "failed", error_code=str(code)[:64],
                       error_vi=getattr(e, "message_vi", None) or "Lỗi hệ thống.",
                       error_en=getattr(e, "message_en", None) or "Internal error.")
        return
    store.set_item(job_id, item.position, "ok", status=out.document.status)


def _finish_landed_signature(services: Any, actor: Any, item: BatchItem) -> str | None:
    """The document's status if this actor's signature over ``item.sha256`` is already
    committed (a runner died after the workflow committed it), archiving that version
    if the crash came before its archival; None if it never landed."""
    engine = services.engine
    with engine.connect() as conn:
        signed = [r for r in conn.execute(select(signature_requests).where(
            signature_requests.c.document_id == item.document_id,
            signature_requests.c.status == "signed",
            signature_requests.c.signed_by == actor.subject)).all()
            if (r.evidence or {}).get("sha256_before") == item.sha256]
        if not signed:
            return None
        before = conn.execute(select(document_versions.c.version).where(and_(
            document_versions.c.document_id == item.document_id,
            document_versions.c.sha256 == item.sha256))).scalar()
        made = conn.execute(select(document_versions.c.sha256).where(
            document_versions.c.document_id == item.document_id,
            document_versions.c.version == (before or 0) + 1)).scalar()
        current = conn.execute(select(documents).where(
            documents.c.id == item.document_id)).first()
    archived = made is not None and any(
        v.sha256 == made for v in services.index.versions(item.document_id))
    if not archived and current is not None and current.sha256 == made:
        _archive_landed(services, actor, current, signed[0])
        with engine.connect() as conn:
            current = conn.execute(select(documents).where(
                documents.c.id == item.document_id)).first()
    elif not archived:
        log.warning("signed version not archived and the document moved on",
                    extra={"document_id": item.document_id})
    return str(current.status) if current is not None else None


def _archive_landed(services: Any, actor: Any, row: Any, request: Any) -> None:
    """What the workflow does after committing a signature (archive, audit, events), for
    a signature whose runner died in between. Archival is idempotent (same content)."""
    evidence = request.evidence or {}
    log.info("finishing the archival of a signature whose runner died",
             extra={"document_id": row.id})
    services.documents.archive_committed_signature(
        actor, row, evidence.get("signed_role") or request.role,
        evidence.get("level", "B-LT"), request.method or "hsm_key",
        evidence.get("subject", ""), evidence.get("practitioner_id"),
        row.status == "completed")
