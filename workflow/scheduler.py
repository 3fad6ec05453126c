"""Where background jobs run: the in-process :class:`Scheduler` of the embedded
default (periodic jobs on one daemon thread), and on PostgreSQL the
:class:`DurableQueue` (procrastinate): any process defers, ``hsba worker``
processes run each job once, jobs outlive a worker restart."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, interval_s: float = 1.0) -> None:
        self.interval_s = interval_s
        self._jobs: list[tuple[str, Callable[[], object]]] = []
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, name: str, job: Callable[[], object]) -> None:
        self._jobs.append((name, job))

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="hsba-scheduler", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Run the jobs now (e.g. a new webhook delivery is waiting)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, job in self._jobs:
                if self._stop.is_set():
                    break
                try:
                    job()
                except Exception:
                    log.exception("scheduled job failed", extra={"job": name})
            self._wake.wait(self.interval_s)
            self._wake.clear()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None


# --- the durable queue (PostgreSQL, procrastinate) ----------------------------------------
QUEUE = "hsba"
"""The procrastinate queue every hsba job goes to."""

JOBS = ("renew_timestamps", "audit_checkpoint", "integrity_sweep", "deliver_webhooks")
"""Jobs another process may defer by name (``DurableQueue.defer``)."""

_PERIODIC = (  # (job, cron): several workers defer each tick once (procrastinate's periodic)
    ("renew_timestamps", "7 * * * *"),
    ("audit_checkpoint", "17 * * * *"),
    ("integrity_sweep", "30 19 * * *"),  # 02:30 Asia/Ho_Chi_Minh
    ("deliver_webhooks", "* * * * *"),  # safety net; emit() defers a delivery at once
    ("retry_stalled_jobs", "* * * * *"),
    ("prune_jobs", "45 * * * *"),
)
_SCHEMA_LOCK = 0x68736261  # "hsba": one process installs the queue's tables


def libpq_conninfo(database_url: str) -> str:
    """The SQLAlchemy URL (``postgresql+psycopg://…``) as a libpq URI for psycopg."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class DurableQueue:
    """The background jobs on PostgreSQL through procrastinate: deferred by any process
    (API instances, CLI), each job run by exactly one ``hsba worker``; jobs wait in the
    database while no worker runs, and a job whose worker died is retried."""

    def __init__(self, engine: Any, *, periodic: bool = True) -> None:
        from procrastinate import App, PsycopgConnector

        self._engine = engine
        self._services: Any = None
        self.app = App(connector=PsycopgConnector(
            conninfo=libpq_conninfo(engine.url.render_as_string(hide_password=False)),
            min_size=1, max_size=4))
        self._opened = False
        self._lock = threading.Lock()
        self._periodic = periodic
        self._extra: set[str] = set()
        self._register(periodic)

    def add_job(self, name: str, fn: Callable[[], object], *, cron: str | None = None) -> None:
        """Another package's job (e.g. polling a remote-signing provider): ``fn()`` runs on
        a worker when deferred by ``name``, and at each ``cron`` tick (5 or 6 fields, UTC)
        when given. Register it in the worker process before :meth:`run_worker`."""

        def job(timestamp: int | None = None) -> object:
            return fn()

        task = self.app.task(name=f"hsba.{name}", queue=QUEUE)(job)
        if cron and self._periodic:
            self.app.periodic(cron=cron, periodic_id=name)(task)
        self._extra.add(name)

    # --- schema -------------------------------------------------------------------------
    def ensure_schema(self) -> None:
        """Install procrastinate's tables on first use (under an advisory lock)."""
        from sqlalchemy import inspect, text

        with self._engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEMA_LOCK})
            if inspect(conn).has_table("procrastinate_jobs"):
                return
            from procrastinate.schema import SchemaManager

            with conn.connection.dbapi_connection.cursor() as cur:  # type: ignore[union-attr]
                cur.execute(SchemaManager.get_schema())  # no parameters: '%' is literal
            log.info("job queue tables installed")

    # --- deferring (any process) -----------------------------------------------------------
    def defer(self, job: str, *, at: datetime | None = None, queueing_lock: str | None = None,
              **kwargs: Any) -> int | None:
        """Queue ``job`` (at ``at``, else now). With ``queueing_lock`` at most one job with
        that lock waits: None when one already does. Returns the job id."""
        from procrastinate.exceptions import AlreadyEnqueued

        if job not in JOBS and job not in self._extra:
            raise ValueError(f"unknown job {job}")
        self._open()
        try:
            return int(self.app.configure_task(
                name=f"hsba.{job}", queue=QUEUE, queueing_lock=queueing_lock,
                schedule_at=at).defer(**kwargs))
        except AlreadyEnqueued:
            return None

    def status(self, job_id: int) -> tuple[str, int]:
        """(status, attempts) of a job: ``todo``, ``doing``, ``succeeded``, ``failed``…"""
        from sqlalchemy import text

        with self._engine.connect() as conn:
            row = conn.execute(text("SELECT status, attempts FROM procrastinate_jobs "
                                    "WHERE id = :id"), {"id": job_id}).first()
        if row is None:
            raise KeyError(job_id)
        return str(row.status), int(row.attempts)

    def _open(self) -> None:
        with self._lock:
            if not self._opened:
                self.ensure_schema()
                self.app.open()
                self._opened = True

    def close(self) -> None:
        with self._lock:
            if self._opened:
                self.app.close()
                self._opened = False

    # --- working (``hsba worker``) ---------------------------------------------------------
    def run_worker(self, services: Any, *, concurrency: int = 1, name: str | None = None,
                   until_empty: bool = False) -> None:
        """Run jobs until SIGTERM/SIGINT (graceful: the running job finishes), or with
        ``until_empty`` until no job is due (no signal handlers: any thread)."""
        self.ensure_schema()
        self._services = services
        self.app.run_worker(queues=[QUEUE], concurrency=concurrency, name=name,
                            wait=not until_empty, install_signal_handlers=not until_empty,
                            listen_notify=True, delete_jobs="never",
                            fetch_job_polling_interval=2.0)

    def _register(self, periodic: bool) -> None:
        """Each job a procrastinate task ``hsba.<job>``; periodic ticks pass ``timestamp``."""
        from procrastinate import RetryStrategy

        from workflow import jobs

        def services() -> Any:
            if self._services is None:
                raise RuntimeError("job run outside hsba worker")
            return self._services

        # one run of each job at a time across every worker (PostgreSQL advisory lock)
        def renew_timestamps(margin_days: int = 180, limit: int = 200,
                             timestamp: int | None = None) -> dict[str, Any]:
            s = services()
            return jobs.exclusive(s, "renew_timestamps", lambda: jobs.renew_timestamps(
                s, margin_days=margin_days, limit=limit), wait=True)  # type: ignore[no-any-return]

        def audit_checkpoint(timestamp: int | None = None) -> dict[str, Any]:
            s = services()
            return jobs.exclusive(s, "audit_checkpoint",  # type: ignore[no-any-return]
                                  lambda: jobs.audit_checkpoint(s), wait=True)

        def integrity_sweep(requested_by: str = "schedule",
                            timestamp: int | None = None) -> dict[str, Any]:
            s = services()
            return jobs.exclusive(s, "integrity_sweep", lambda: jobs.integrity_sweep(  # type: ignore[no-any-return]
                s, requested_by=requested_by), wait=True)

        def deliver_webhooks(timestamp: int | None = None) -> int:
            hub = services().webhooks
            delivered = hub.deliver_due()
            nxt = hub.next_attempt_at()
            if nxt is not None:  # a retry with backoff: a durable job at that time
                self.defer("deliver_webhooks", at=nxt, queueing_lock="webhooks-retry")
            return int(delivered)

        async def retry_stalled_jobs(timestamp: int | None = None) -> int:
            stalled = list(await self.app.job_manager.get_stalled_jobs(queue=QUEUE))
            for job in stalled:
                log.warning("retrying a job whose worker died", extra={"job_id": job.id})
                await self.app.job_manager.retry_job(job)
            return len(stalled)

        async def prune_jobs(timestamp: int | None = None) -> None:
            await self.app.job_manager.delete_old_jobs(nb_hours=24 * 7, queue=QUEUE)

        retry = RetryStrategy(max_attempts=5, exponential_wait=4)
        crons = dict(_PERIODIC)
        for fn in (renew_timestamps, audit_checkpoint, integrity_sweep, deliver_webhooks,
                   retry_stalled_jobs, prune_jobs):
            name = fn.__name__
            task = self.app.task(name=f"hsba.{name}", queue=QUEUE,
                                 retry=retry if name in JOBS else False)(fn)  # type: ignore[call-overload]
            if periodic:
                self.app.periodic(cron=crons[name], periodic_id=name)(task)

        def sign_web_batch(batch_id: str) -> dict[str, Any]:
            """A clinician's batch (``workflow.batch_jobs``), from its stored state: a retry
            after a dead worker goes on where it stopped."""
            import os
            import uuid

            from workflow.batch_jobs import BatchStore, run_batch

            s = services()
            return run_batch(s, BatchStore(s.engine), batch_id,
                             f"worker:{os.getpid()}:{uuid.uuid4().hex[:8]}", force=True)

        self.app.task(name="hsba.sign_web_batch", queue=QUEUE, retry=retry)(sign_web_batch)
        self._extra.add("sign_web_batch")
