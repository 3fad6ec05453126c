"""``hsba archive`` and ``hsba audit`` on the embedded default (SQLite + filesystem store)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import update

from api.cli import main
from archive import open_archive
from archive.ingest import DocumentMeta, IngestItem
from archive.models import AuditEvent
from core.settings import get_settings


def _ingest(n: int = 3) -> Any:
    a = open_archive(get_settings())
    for i in range(n):
        a.archive_document(IngestItem(f"doc-{i}", f"%PDF {i}".encode(),
                                      DocumentMeta("70001", "lab_result"), "doctor-an"))
    return a


def test_archive_check_reconcile_and_audit_cli(tmp_settings: Any,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    a = _ingest()
    from archive.audit import AuditRecord

    a.audit.append(AuditRecord("nurse-chi", "view", "doc-1", "70001"))
    assert main(["archive", "check", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] and out["checked"] == 3
    assert main(["archive", "reconcile", "--json", "--min-age", "0"]) == 0
    assert json.loads(capsys.readouterr().out) == {"completed": [], "abandoned": []}
    assert main(["audit", "checkpoint"]) == 0
    capsys.readouterr()
    assert main(["audit", "verify", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["ok"] and rep["entries"] == 4 and rep["checkpoints_checked"] == 1
    assert main(["audit", "who-viewed", "doc-1", "--json"]) == 0
    views = json.loads(capsys.readouterr().out)["views"]
    assert [v["actor_id"] for v in views] == ["nurse-chi"]
    # tamper: verify fails with exit 1 and names the entry
    with a.index.engine.begin() as c:
        c.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(actor_id="x"))
    assert main(["--lang", "en", "audit", "verify"]) == 1
    out = capsys.readouterr().out
    assert "seq 2 [altered]" in out and "TAMPERED" in out
    # a missing object: check fails
    v = a.index.versions("doc-0")[0]
    path = a.store.root / v.object_key  # type: ignore[attr-defined]
    path.chmod(0o644)
    path.unlink()
    assert main(["archive", "check", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["missing"] == [v.object_key]


def test_restore_cli_from_replica(tmp_settings: Any, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    from core.settings import reset_settings_cache

    monkeypatch.setenv("HSBA_REPLICA_STORE", "fs")
    reset_settings_cache()
    a = _ingest(2)
    keys = [a.index.versions(f"doc-{i}")[0].object_key for i in range(2)]
    root = a.store.primary.root  # type: ignore[attr-defined]
    for k in keys:
        (root / k).chmod(0o644)
        (root / k).unlink()
    assert main(["archive", "restore", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["copied"] == 2
    assert main(["archive", "check", "--json"]) == 0
    capsys.readouterr()
    monkeypatch.delenv("HSBA_REPLICA_STORE")
    reset_settings_cache()
    assert main(["archive", "restore"]) == 2


def test_filesystem_store_refused_in_production(tmp_settings: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from archive import open_store
    from core.errors import ConfigurationError
    from core.settings import reset_settings_cache

    assert open_store(get_settings()).name == "fs"
    monkeypatch.setenv("HSBA_ENV", "production")
    reset_settings_cache()
    with pytest.raises(ConfigurationError) as e:
        open_store(get_settings())
    assert e.value.code == "archive.fs_store_in_production"
