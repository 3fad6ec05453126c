"""Web batch jobs stored in the database (``workflow.batch_jobs``), on the embedded
default (SQLite, software keys, development PKI): only the owner sees a job; the
bounds (documents per job, open jobs per account) and the purge of old finished
jobs; a wrong factor stores nothing; and a runner that dies right after the workflow
committed a signature (before its archival) leaves a job that a second runner
finishes without signing anything twice: the committed signature is recognised and
its version archived."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.errors import Conflict, InvalidInput, Unauthorized
from workflow.access import ActorRef
from workflow.batch_jobs import MAX_DOCUMENTS, MAX_OPEN_JOBS, BatchStore, run_batch, start_batch
from workflow.demo import demo_form_data
from workflow.seeding import seed_demo
from workflow.services import Services


class _RunnerDied(BaseException):
    """Stands for the process dying (SIGKILL) at one point of the signing: raised as a
    BaseException, nothing in the runner catches it, exactly like a killed thread."""


@pytest.fixture
def env(tmp_settings: Any) -> Any:
    services = Services.from_settings(tmp_settings)
    logins = {x.role: x for x in seed_demo(services)}
    try:
        yield services, logins
    finally:
        services.close()


def _actor(services: Services, logins: dict[str, Any], role: str) -> ActorRef:
    return ActorRef.of(services.accounts.find("staff", logins[role].username))


def _consents(services: Services, doctor: ActorRef, n: int) -> list[tuple[str, str, str]]:
    out = []
    for _ in range(n):
        view = services.documents.create(
            doctor, form_code="consent_surgery", data=demo_form_data(doctor.tenant),
            care_team=[doctor.practitioner_id], department=doctor.department)
        out.append((view.id, view.sha256, "consent_surgery"))
    return out


def test_only_the_owner_sees_a_job_and_bounds_hold(env: Any) -> None:
    services, logins = env
    doctor, head = _actor(services, logins, "clinician"), _actor(services, logins, "head_of_department")
    store = BatchStore(services.engine)
    items = [(f"doc-{n}", "a" * 64, "consent_surgery") for n in range(3)]
    job_id = store.create(doctor, items)
    job = store.get(job_id, doctor)
    assert job is not None and job.state == "queued" and job.total == 3 and job.done == 0
    assert [i.state for i in job.items] == ["waiting"] * 3
    assert store.get(job_id, head) is None, "another account of the same hospital"
    assert store.get(job_id, replace(doctor, tenant="79999")) is None, "another hospital"
    assert store.get("0" * 32, doctor) is None

    with pytest.raises(InvalidInput):
        store.create(doctor, [("d", "a" * 64, "f")] * (MAX_DOCUMENTS + 1))
    with pytest.raises(InvalidInput):
        store.create(doctor, [])
    for _ in range(MAX_OPEN_JOBS - 1):
        store.create(doctor, items)
    with pytest.raises(Conflict):
        store.create(doctor, items)
    store.create(head, items)  # the limit is per account

    # finished jobs are purged after the retention period, unfinished ones never
    assert store.claim(job_id, "test-runner")
    store.finish(job_id, "test-runner")
    assert store.purge() == 0
    assert store.purge(datetime.now(UTC) + store.keep_finished + timedelta(minutes=1)) == 1
    assert store.load(job_id) is None
    assert store.purge(datetime.now(UTC) + timedelta(days=3650)) == 0


def test_wrong_factor_stores_and_signs_nothing(env: Any) -> None:
    services, logins = env
    doctor = _actor(services, logins, "clinician")
    items = _consents(services, doctor, 1)
    store = BatchStore(services.engine)
    with pytest.raises(Unauthorized):
        start_batch(services, store, doctor, items, pin="000000", totp=None)
    from sqlalchemy import func, select

    from workflow.db import batch_jobs

    with services.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(batch_jobs)).scalar() == 0
    assert services.documents.get(doctor, items[0][0], audit=False).version == 0


def test_a_runner_dying_between_signature_and_archival_signs_nothing_twice(
        env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    services, logins = env
    doctor = _actor(services, logins, "clinician")
    items = _consents(services, doctor, 3)
    store = BatchStore(services.engine, stale_after=timedelta(seconds=0))
    job_id = store.create(doctor, items)

    wf = services.documents
    real_after = wf._after_signature
    calls = {"n": 0}

    def dies_on_second(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:  # the second document: signature committed, not archived
            raise _RunnerDied()
        return real_after(*args, **kwargs)

    monkeypatch.setattr(wf, "_after_signature", dies_on_second)
    with pytest.raises(_RunnerDied):
        run_batch(services, store, job_id, "runner-1")
    monkeypatch.setattr(wf, "_after_signature", real_after)

    job = store.get(job_id, doctor)
    assert job is not None and not job.finished
    assert [i.state for i in job.items] == ["ok", "signing", "waiting"]
    assert job.interrupted, "its runner is silent (stale_after=0 here)"
    second = items[1][0]
    assert services.documents.get(doctor, second, audit=False).version == 1  # committed...
    assert services.index.versions(second) == []  # ...but not archived

    summary = run_batch(services, store, job_id, "runner-2")
    assert summary["ok"] == 3 and summary["failed"] == 0
    job = store.get(job_id, doctor)
    assert job is not None and job.finished and not job.interrupted
    for doc_id, _, _ in items:
        view = services.documents.get(doctor, doc_id, audit=False)
        assert view.version == 1, "signed exactly once"
        assert {r.role: r.status for r in view.signature_requests}["doctor"] == "signed"
        [archived] = services.index.versions(doc_id)
        assert archived.sha256 == view.sha256
    signs = [e for e in services.audit.entries(limit=10_000)
             if e.action == "sign" and e.object_id == second]
    assert len(signs) == 1, "the finished archival is audited once"
    assert run_batch(services, store, job_id, "runner-3")["skipped"]


def test_a_shutdown_leaves_the_rest_for_a_resume(env: Any) -> None:
    """The API process stopping (its signing pool shut down) does not mark the remaining
    documents failed: they stay waiting, and the job shows as interrupted."""
    services, logins = env
    doctor = _actor(services, logins, "clinician")
    store = BatchStore(services.engine, stale_after=timedelta(seconds=0))
    job_id = store.create(doctor, _consents(services, doctor, 2))
    services.executor.shutdown(wait=True)
    assert run_batch(services, store, job_id, "runner-1")["skipped"] == "shutting down"
    job = store.get(job_id, doctor)
    assert job is not None and job.state == "running" and job.interrupted
    assert [i.state for i in job.items] == ["waiting", "waiting"]


CRASHING_RUNNER = """
import sys
from workflow.batch_jobs import BatchStore, run_batch
from workflow.services import Services

services = Services.from_settings()
run_batch(services, BatchStore(services.engine), sys.argv[1], "runner-that-crashes")
"""


def test_a_runner_killed_inside_the_archival_is_finished_by_the_next(env: Any) -> None:
    """A real process running the batch kills itself (SIGKILL, the archive's own
    ``HSBA_TEST_CRASH_AT=after_put``) with the first document's signature committed and
    its object stored but not indexed; the next runner finishes that archival (same
    object, one version) and signs the rest, nothing twice."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    services, logins = env
    doctor = _actor(services, logins, "clinician")
    items = _consents(services, doctor, 2)
    store = BatchStore(services.engine, stale_after=timedelta(seconds=0))
    job_id = store.create(doctor, items)
    proc = subprocess.run(
        [sys.executable, "-c", CRASHING_RUNNER, job_id], cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "HSBA_TEST_CRASH_AT": "after_put"}, capture_output=True,
        text=True, timeout=300, check=False)
    assert proc.returncode == -9, proc.stdout[-2000:] + proc.stderr[-2000:]
    job = store.get(job_id, doctor)
    assert job is not None and [i.state for i in job.items] == ["signing", "waiting"]
    first = items[0][0]
    assert services.documents.get(doctor, first, audit=False).version == 1
    assert services.index.versions(first) == []

    assert run_batch(services, store, job_id, "runner-2", force=True)["ok"] == 2
    for doc_id, _, _ in items:
        view = services.documents.get(doctor, doc_id, audit=False)
        assert view.version == 1, "signed exactly once"
        [archived] = services.index.versions(doc_id)
        assert archived.sha256 == view.sha256
    assert services.audit.verify().ok
