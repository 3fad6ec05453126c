"""The durable job queue on the real PostgreSQL (procrastinate, issue 8).

A job deferred by one process (this test, standing for an API instance) is run
by an ``hsba worker`` process, exactly once even with two workers running; a
job deferred while no worker runs waits in the database and is run by the
worker started later, and a worker restart does not run finished jobs again.
A webhook event emitted by the API process is delivered by a worker.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any, ClassVar

import pytest

from core.settings import Settings
from workflow.services import Services

HSBA = [sys.executable, "-c", "import sys; from api.cli import main; sys.exit(main())"]
REPO = Path(__file__).resolve().parents[2]
BOUND_S = 180
"""Upper bound on waiting for a worker (a hang guard, not a speed assertion)."""


@pytest.fixture
def queue_db(test_services: Any) -> Iterator[str]:
    """A throwaway PostgreSQL database (the queue's tables and jobs are this test's own)."""
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(test_services.pg_admin_url)
    name = f"hsba_q_{uuid.uuid4().hex[:12]}"
    conninfo = f"host={admin.host} port={admin.port} user={admin.username} dbname={admin.database}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def services(queue_db: str, tmp_path: Path) -> Iterator[Services]:
    s = Services.from_settings(Settings(env="test", data_dir=tmp_path / "var",
                                        database_url=queue_db, store="fs",
                                        keystore="software", pki="dev", tsa_urls=[]))
    try:
        yield s
    finally:
        s.close()


class Workers:
    def __init__(self, database_url: str, data_dir: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HSBA_")}
        self.env.update(HSBA_DATABASE_URL=database_url, HSBA_DATA_DIR=str(data_dir),
                        HSBA_ENV="test", HSBA_CONFIG=str(data_dir / "none.toml"))
        self.procs: list[subprocess.Popen[str]] = []

    def start(self, name: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen([*HSBA, "worker", "--name", name], cwd=REPO, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[str]) -> str:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out
        return out

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.communicate()


@pytest.fixture
def workers(queue_db: str, tmp_path: Path) -> Iterator[Workers]:
    w = Workers(queue_db, tmp_path / "var")
    try:
        yield w
    finally:
        w.close()


def _wait_done(queue: Any, job_ids: list[int]) -> list[tuple[str, int]]:
    deadline = time.monotonic() + BOUND_S
    while True:
        states = [queue.status(j) for j in job_ids]
        if all(s in ("succeeded", "failed") for s, _ in states):
            return states
        assert time.monotonic() < deadline, states
        time.sleep(0.5)


def _sweeps(services: Services, marker: str) -> int:
    return sum(1 for e in services.audit.entries(limit=100_000)
               if e.actor_id == "system:integrity" and e.details.get("requested_by") == marker)


@pytest.mark.services
@pytest.mark.slow
def test_deferred_jobs_run_once_across_workers_and_restarts(services: Services,
                                                            workers: Workers) -> None:
    queue = services.queue
    assert queue is not None, "PostgreSQL gets the durable queue"
    marker = f"test-{uuid.uuid4().hex[:8]}"

    # deferred while no worker runs: they wait in the database
    first = [queue.defer("integrity_sweep", requested_by=marker) for _ in range(3)]
    assert [queue.status(j)[0] for j in first] == ["todo"] * 3

    # two workers at once: each job runs exactly once
    a, b = workers.start("worker-a"), workers.start("worker-b")
    states = _wait_done(queue, first)
    assert states == [("succeeded", 1)] * 3, states
    assert _sweeps(services, marker) == 3
    workers.stop(a)
    workers.stop(b)

    # a job deferred while every worker is stopped survives until a worker restarts
    later = queue.defer("integrity_sweep", requested_by=marker)
    assert later is not None and queue.status(later) == ("todo", 0)
    c = workers.start("worker-c")
    assert _wait_done(queue, [later]) == [("succeeded", 1)]
    workers.stop(c)
    assert _sweeps(services, marker) == 4, "finished jobs are not run again after a restart"
    assert [queue.status(j) for j in first] == [("succeeded", 1)] * 3


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.services
@pytest.mark.slow
def test_a_webhook_emitted_by_the_api_process_is_delivered_by_a_worker(
        services: Services, workers: Workers) -> None:
    _Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        hub = services.webhooks
        sub = hub.subscribe("70001", f"http://127.0.0.1:{server.server_port}/hook",
                            ["document.created"], "hmac")
        assert hub.emit("70001", "document.created", {"document_id": "doc-q-1"}) == 1
        proc = workers.start("worker-hooks")
        deadline = time.monotonic() + BOUND_S
        while not _Receiver.received:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.3)
        workers.stop(proc)
    finally:
        server.shutdown()
    assert [r["data"]["document_id"] for r in _Receiver.received] == ["doc-q-1"]
    [delivery] = hub.deliveries("70001", sub.id)
    assert delivery.status == "delivered" and delivery.attempts == 1


@pytest.mark.services
def test_another_package_adds_a_job(services: Services) -> None:
    """``DurableQueue.add_job``: a job of another package (remote-signing polling) runs on
    a worker when deferred; here the worker runs in this process until the queue is empty."""
    from workflow.scheduler import DurableQueue

    queue = DurableQueue(services.engine, periodic=False)
    runs: list[int] = []
    queue.add_job("test_poll", lambda: runs.append(1))
    job_id = queue.defer("test_poll")
    assert job_id is not None and queue.status(job_id) == ("todo", 0)
    with pytest.raises(ValueError):
        queue.defer("no_such_job")
    try:
        queue.run_worker(services, until_empty=True)
    finally:
        queue.close()
    assert runs == [1] and queue.status(job_id) == ("succeeded", 1)


@pytest.mark.services
def test_a_job_whose_worker_died_mid_run_is_run_again_once(services: Services) -> None:
    """A worker takes a job and dies (its heartbeat stops): the periodic
    ``retry_stalled_jobs`` puts the job back and the next worker runs it, once."""
    import asyncio

    from sqlalchemy import text

    from workflow.scheduler import QUEUE, DurableQueue

    queue = DurableQueue(services.engine, periodic=False)
    marker = f"test-{uuid.uuid4().hex[:8]}"
    job_id = queue.defer("integrity_sweep", requested_by=marker)
    assert job_id is not None
    manager = queue.app.job_manager

    async def take_and_die() -> int:
        async with queue.app.open_async():
            worker_id = await manager.register_worker()
            job = await manager.fetch_job([QUEUE], worker_id)
            assert job is not None and job.id == job_id
            return worker_id

    dead = asyncio.run(take_and_die())
    assert queue.status(job_id)[0] == "doing"
    with services.engine.begin() as conn:  # the dead worker's last heartbeat, an hour ago
        conn.execute(text("UPDATE procrastinate_workers SET last_heartbeat = now() - "
                          "interval '1 hour' WHERE id = :id"), {"id": dead})

    async def retry() -> int:
        async with queue.app.open_async():
            return int(await queue.app.tasks["hsba.retry_stalled_jobs"].func())

    assert asyncio.run(retry()) == 1
    assert queue.status(job_id)[0] == "todo"
    try:  # the next worker (in this process, until the queue is empty)
        queue.run_worker(services, until_empty=True)
    finally:
        queue.close()
    assert queue.status(job_id)[0] == "succeeded"
    assert _sweeps(services, marker) == 1
