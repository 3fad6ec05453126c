"""SIGKILL at each step of ingest; after restart and reconcile nothing is lost or duplicated.

The child process (``tests.archive.crash_ingest``) kills itself with SIGKILL at
the step named by ``HSBA_TEST_CRASH_AT``; the parent then plays the restarted
service: it reconciles, retries the same ingest (as an unacknowledged caller
would), and checks the index, the store and the audit chain. Run on SQLite +
filesystem store and on PostgreSQL + the SeaweedFS Object Lock bucket.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.db import make_engine
from archive.fs_store import FilesystemWormStore
from archive.index import RecordsIndex
from archive.ingest import CRASH_STEPS, Archiver, reconcile
from archive.integrity import check_archive
from archive.store import ObjectStore
from tests.archive.conftest import migrated_url, s3_store, store_spec
from tests.archive.crash_ingest import item_from_config

REPO = Path(__file__).resolve().parents[2]


def _run_child(cfg: dict[str, object], crash_at: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HSBA_")}
    env["PYTHONPATH"] = str(REPO)
    if crash_at:
        env["HSBA_TEST_CRASH_AT"] = crash_at
    return subprocess.run([sys.executable, "-m", "tests.archive.crash_ingest", json.dumps(cfg)],
                          check=False, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(params=["sqlite+fs", pytest.param("postgresql+s3", marks=pytest.mark.services)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, ObjectStore]]:
    kind, store_kind = request.param.split("+")
    url, drop = migrated_url(request, kind, tmp_path)
    try:
        yield url, (FilesystemWormStore(tmp_path / "worm", warn=False) if store_kind == "fs"
                    else s3_store(request.getfixturevalue("test_services")))
    finally:
        drop()


@pytest.mark.parametrize("step", CRASH_STEPS)
def test_sigkill_at_each_step_then_reconcile(step: str, backend: tuple[str, ObjectStore]) -> None:
    db_url, store = backend
    tenant = "t" + uuid.uuid4().hex[:8]
    cfg = {"db_url": db_url, "store": store_spec(store), "document_id": "doc-crash",
           "content": f"%PDF crash test {step}", "tenant": tenant}
    killed = _run_child(cfg, step)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    engine = make_engine(db_url)
    try:
        archiver = Archiver(RecordsIndex(engine), store)
        report = reconcile(archiver, min_age_s=0)
        if step in ("after_put", "before_commit"):
            assert len(report.completed) == 1  # object stored, rows completed
        elif step == "after_intent":
            assert len(report.abandoned) == 1  # never acknowledged: dropped
        else:
            assert report.completed == () and report.abandoned == ()
        assert reconcile(archiver, min_age_s=0).completed == ()  # idempotent
        # the unacknowledged caller retries; the acknowledged one would get a duplicate
        retry = archiver.archive_document(item_from_config(cfg))
        assert retry.version == 1 and retry.duplicate == (step != "after_intent")
        versions = archiver.index.versions("doc-crash")
        assert len(versions) == 1 and versions[0].n == 1
        assert len(archiver.index.signatures("doc-crash")) == 1
        assert store.get(versions[0].object_key) == cfg["content"].encode()  # type: ignore[union-attr]
        keys = [k for k in store.list(f"{tenant}/") if "/doc-crash/" in k]
        assert keys == [versions[0].object_key]
        creates = [e for e in archiver.audit.entries() if e.object_id == "doc-crash"]
        assert [e.action for e in creates] == ["create"]
        assert archiver.audit.verify().ok
        assert check_archive(archiver.index, store).ok
    finally:
        engine.dispose()
