"""A web batch on the embedded default (SQLite) whose API process dies mid-batch.

Another process (standing for the API process that received the batch) starts a
batch of four documents and is killed (SIGKILL) once the first is signed. A second
app instance on the same database shows the clinician the progress and, once the
dead runner is silent (``stale_after``, 2 s here instead of 5 minutes), the
"interrupted" notice with a resume button; the button signs the remaining
documents, each exactly once. Another account gets 404 for the job."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from api.app import create_app
from api.middleware import ApiLimits
from api.web.batch import BatchJobs
from tests.loopback import free_port
from tests.web.conftest import Shots
from tests.web.helpers import staff_login, unlabelled_controls
from workflow.batch_jobs import BatchStore

pytestmark = pytest.mark.browser
REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = 4
BOUND_S = 180
"""Upper bound on waiting (a hang guard, not a speed assertion)."""

# The dying API process: the same settings as the test service, starts the batch the
# way the page does (factor checked once, job stored, signed on a thread), then waits.
RUNNER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from core.settings import Settings
    from workflow.access import ActorRef
    from workflow.batch_jobs import BatchStore, start_batch
    from workflow.services import Services

    data_dir, base_url, username, pin, *docs = sys.argv[1:]
    settings = Settings(env="test", data_dir=Path(data_dir), hospital_code="70001",
                        database_url="", store="fs", keystore="software", pki="dev",
                        tsa_urls=[], base_url=base_url)
    services = Services.from_settings(settings)
    actor = ActorRef.of(services.accounts.find("staff", username))
    items = [tuple(d.split(":")) for d in docs]
    print("JOB", start_batch(services, BatchStore(services.engine), actor, items, pin=pin,
                      totp=None), flush=True)
    time.sleep(600)
""")


@pytest.fixture
def second_instance(web_env: Any) -> Iterator[str]:
    """A second app instance on the web service's database, with a 2 s staleness."""
    settings = web_env.services.settings
    app = create_app(settings, services=web_env.services,
                     limits=ApiLimits(rate_per_s=1000, burst=5000))
    app.state.web_batch_jobs = BatchJobs(stale_after=timedelta(seconds=2))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="hsba-web-test-second", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def _dying_runner(web_env: Any, ids: list[str]) -> tuple[subprocess.Popen[str], str]:
    services = web_env.services
    doctor = web_env.actor("clinician")
    docs = []
    for doc_id in ids:
        view = services.documents.get(doctor, doc_id, audit=False)
        docs.append(f"{doc_id}:{view.sha256}:consent_surgery")
    login = web_env.logins["clinician"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HSBA_")}
    proc = subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(services.settings.data_dir), web_env.base_url,
         login.username, login.signing_pin or "", *docs],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:  # its log lines, then the job id
        lines.append(line)
        if line.startswith("JOB "):
            return proc, line.split()[1]
    pytest.fail("the runner process ended: " + "".join(lines)[-3000:])


def test_interrupted_batch_is_shown_and_resumed_by_its_owner(page: Any, web_env: Any,
                                                            second_instance: str) -> None:
    shots = Shots("clinician-batch-resume")
    ids = web_env.create_consents(DOCUMENTS)
    store = BatchStore(web_env.services.engine, stale_after=timedelta(seconds=2))
    doctor = web_env.actor("clinician")
    proc, job_id = _dying_runner(web_env, ids)
    try:
        deadline = time.monotonic() + BOUND_S
        while True:
            job = store.get(job_id, doctor)
            assert job is not None
            if job.done >= 1 and any(i.state == "signing" for i in job.items):
                break  # killed while it signs a document, one already done
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    killed = store.get(job_id, doctor)
    assert killed is not None and not killed.finished and 1 <= killed.done < DOCUMENTS
    assert any(i.state == "signing" for i in killed.items)

    # the clinician, on the other app instance: progress, then the interrupted notice
    staff_login(page, web_env, "clinician")  # the session cookie is valid on both instances
    page.goto(f"{second_instance}/web/batch/{job_id}")
    assert page.locator("progress#progress").get_attribute("max") == str(DOCUMENTS)
    resume = page.get_by_role("button", name="Tiếp tục ký các tài liệu còn lại")
    resume.wait_for(timeout=30_000)  # the page reloads itself once the runner is stale
    assert "Lượt ký bị gián đoạn" in page.locator("#batch-state").inner_text()
    assert int(page.locator("progress#progress").evaluate("p => p.value")) == killed.done
    assert unlabelled_controls(page) == []
    shots(page, "interrupted")

    # another account of the hospital sees nothing of it
    with httpx.Client(base_url=second_instance) as other:
        from tests.web.test_session import _login

        _login(other, web_env, "head_of_department")
        assert other.get(f"/web/batch/{job_id}/status").status_code == 404
        assert other.get(f"/web/batch/{job_id}").status_code == 404
        csrf = re.search(r'name="csrf" value="([^"]+)"', other.get("/web/inbox").text)
        assert csrf is not None
        r = other.post(f"/web/batch/{job_id}/resume", data={"csrf": csrf.group(1)})
        assert r.status_code == 404
    assert store.get(job_id, doctor).interrupted  # type: ignore[union-attr]

    resume.click()
    deadline = time.monotonic() + BOUND_S
    while not (job := store.get(job_id, doctor)).finished:  # type: ignore[union-attr]
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    assert job.ok == DOCUMENTS, job  # type: ignore[union-attr]
    page.get_by_text(f"Hoàn tất: {DOCUMENTS} thành công, 0 lỗi.").wait_for(timeout=30_000)
    shots(page, "resumed")
    for doc_id in ids:
        assert "Đã ký" in page.locator(f"#row-{doc_id}").inner_text()
        view = web_env.services.documents.get(doctor, doc_id, audit=False)
        assert view.version == 1, "signed exactly once"
        [archived] = web_env.services.index.versions(doc_id)
        assert archived.sha256 == view.sha256
    assert page.get_by_role("button", name="Tiếp tục ký các tài liệu còn lại").count() == 0
