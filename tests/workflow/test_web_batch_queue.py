"""A clinician's web batch on the real-services profile (PostgreSQL, SoftHSM2 keys, S3
Object Lock, HTTP TSA): started through one app instance, its progress read through a
second app instance on the same database (another account: 404); run by ``hsba worker``
processes from the durable queue; the worker is killed (SIGKILL) mid-batch, the queue
hands the job to a second worker, and every document ends signed and archived exactly
once."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.middleware import ApiLimits
from workflow.access import ActorRef
from workflow.batch_jobs import BatchStore
from workflow.demo import demo_form_data
from workflow.seeding import seed_demo
from workflow.services import Services

HSBA = [sys.executable, "-c", "import sys; from api.cli import main; sys.exit(main())"]
REPO = Path(__file__).resolve().parents[2]
TOKEN_KEYS = {"bs.an": "doctor-an", "bs.binh": "doctor-binh-ec", "dd.cuc": "nurse-chi",
              "seal": "seal"}
DOCUMENTS = 6
BOUND_S = 240
"""Upper bound on waiting for the workers (a hang guard, not a speed assertion)."""


@pytest.fixture
def two_apps(real_services_settings: Any) -> Iterator[tuple[TestClient, TestClient, Services,
                                                            dict[str, Any]]]:
    """Two API instances, each with its own services, on one PostgreSQL database."""
    first = Services.from_settings(real_services_settings)
    second = Services.from_settings(real_services_settings)
    logins = {x.role: x for x in seed_demo(first, key_ids=TOKEN_KEYS)}
    limits = ApiLimits(rate_per_s=1000, burst=5000)
    try:
        with TestClient(create_app(real_services_settings, services=first, limits=limits)) as a, \
                TestClient(create_app(real_services_settings, services=second,
                                      limits=limits)) as b:
            yield a, b, first, logins
    finally:
        second.close()
        first.close()


def _login(client: TestClient, login: Any) -> str:
    """Logs in on the web pages; returns the page's CSRF token."""
    form = client.get("/web/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    r = client.post("/web/login", data={"username": login.username, "password": login.secret,
                                        "totp": pyotp.TOTP(login.totp_secret).now(),
                                        "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303, r.text
    inbox = client.get("/web/inbox")
    return re.search(r'name="csrf" value="([^"]+)"', inbox.text).group(1)  # type: ignore[union-attr]


def _worker(name: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*HSBA, "worker", "--name", name], cwd=REPO, env=dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait(client: TestClient, job_id: str, until: Any, proc: subprocess.Popen[str]) -> Any:
    deadline = time.monotonic() + BOUND_S
    while True:
        job = client.get(f"/web/batch/{job_id}/status").json()
        if until(job):
            return job
        if proc.poll() is not None:
            pytest.fail(f"worker stopped: {proc.communicate()[0][-3000:]}")
        assert time.monotonic() < deadline, job
        time.sleep(0.2)


def _signing_now(store: BatchStore, job_id: str, owner: ActorRef) -> bool:
    job = store.get(job_id, owner)
    return job is not None and any(i.state == "signing" for i in job.items)


def _retry_stalled(services: Services) -> int:
    """What the queue's periodic ``retry_stalled_jobs`` does once a dead worker's
    heartbeat is 30 s old, done now (threshold 0): the killed worker is the only
    one registered, so only its job is taken."""
    from workflow.scheduler import QUEUE, DurableQueue

    queue = DurableQueue(services.engine, periodic=False)

    async def retry() -> int:
        async with queue.app.open_async():
            stalled = list(await queue.app.job_manager.get_stalled_jobs(
                queue=QUEUE, seconds_since_heartbeat=0))
            for job in stalled:
                await queue.app.job_manager.retry_job(job)
            return len(stalled)

    return asyncio.run(retry())


@pytest.mark.services
@pytest.mark.slow
def test_batch_runs_in_workers_survives_a_killed_worker_and_any_instance_shows_it(
        two_apps: Any) -> None:
    a, b, services, logins = two_apps
    doctor_login = logins["clinician"]
    doctor = ActorRef.of(services.accounts.find("staff", doctor_login.username))
    views = [services.documents.create(
        doctor, form_code="consent_surgery", data=demo_form_data(doctor.tenant),
        care_team=[doctor.practitioner_id], department=doctor.department)
        for _ in range(DOCUMENTS)]

    csrf = _login(a, doctor_login)
    r = a.post("/web/batch", data={
        "csrf": csrf, "pin": doctor_login.signing_pin,
        "doc": [f"{v.id}:{v.sha256}:consent_surgery" for v in views]}, follow_redirects=False)
    assert r.status_code == 303, r.text
    job_id = r.headers["location"].rsplit("/", 1)[1]

    # the second instance shows it to the same clinician; no worker yet: it waits
    b.cookies.update(a.cookies)
    job = b.get(f"/web/batch/{job_id}/status").json()
    assert job["state"] == "queued" and job["total"] == DOCUMENTS and job["done"] == 0
    page = b.get(f"/web/batch/{job_id}")
    assert page.status_code == 200 and "Đang chờ tiến trình nền" in page.text
    assert "resume-form" not in page.text, "on PostgreSQL the queue resumes, not a button"

    # another account of the same hospital: not found, on either instance
    with TestClient(b.app) as other:
        _login(other, logins["head_of_department"])
        assert other.get(f"/web/batch/{job_id}/status").status_code == 404
        assert other.get(f"/web/batch/{job_id}").status_code == 404

    # a worker takes it; killed mid-batch
    first = _worker("batch-worker-1")
    try:
        # killed while it signs a document (its item written "signing"), one already done
        store = BatchStore(services.engine)
        _wait(b, job_id, lambda j: j["done"] >= 1 and _signing_now(store, job_id, doctor), first)
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    killed_at = b.get(f"/web/batch/{job_id}/status").json()
    assert not killed_at["finished"] and 1 <= killed_at["done"] < DOCUMENTS, killed_at
    assert _signing_now(store, job_id, doctor), "a document was being signed when it died"

    # the queue hands the dead worker's job to the next worker, which goes on
    assert _retry_stalled(services) == 1
    second = _worker("batch-worker-2")
    try:
        job = _wait(b, job_id, lambda j: j["finished"], second)
    finally:
        second.send_signal(signal.SIGTERM)
        out, _ = second.communicate(timeout=60)
    assert second.returncode == 0, out[-3000:]
    assert job["ok"] == DOCUMENTS and job["failed"] == 0, job
    assert b.get(f"/web/batch/{job_id}").status_code == 200

    for v in views:  # each signed once, that version archived once
        now = services.documents.get(doctor, v.id, audit=False)
        assert now.version == 1
        assert {r.role: r.status for r in now.signature_requests}["doctor"] == "signed"
        [archived] = services.index.versions(v.id)
        assert archived.sha256 == now.sha256
    assert services.audit.verify().ok
