"""Background jobs on the embedded default: B-LTA renewal, time-stamped audit
checkpoints, the integrity sweep, and ``hsba worker --once``."""

from __future__ import annotations

import io
import json
import os

import pytest


@pytest.fixture
def archived_demo(tmp_settings, tmp_path):
    from workflow.demo import run_demo
    from workflow.services import Services

    services = Services.from_settings(tmp_settings)
    result = run_demo(services, tmp_path / "out")
    yield services, result
    services.close()


def test_renewal_adds_a_document_timestamp_as_a_new_version(archived_demo):
    from pyhanko.pdf_utils.reader import PdfFileReader

    from signer.timestamp_info import last_timestamp_expiry
    from signer.verify import verify_pdf
    from workflow.jobs import renew_timestamps

    services, demo = archived_demo
    info = services.index.get(demo.document_id)
    assert info.last_timestamp_expiry is not None, "B-LTA ingest records the TSA expiry"
    before = services.index.versions(demo.document_id)
    # nothing is due within a day of now; everything is due within 100 years
    assert renew_timestamps(services, margin_days=1)["due"] == 0
    out = renew_timestamps(services, margin_days=36500)
    assert out["failed"] == [] and len(out["renewed"]) == 1
    after = services.index.versions(demo.document_id)
    assert len(after) == len(before) + 1
    newest = max(after, key=lambda v: v.n)
    pdf = bytes(services.store.get(newest.object_key))
    old_pdf = bytes(services.store.get(max(before, key=lambda v: v.n).object_key))
    assert pdf.startswith(old_pdf), "renewal is an incremental update of the archived version"
    assert len(PdfFileReader(io.BytesIO(pdf)).embedded_timestamp_signatures) == 2
    assert last_timestamp_expiry(pdf) is not None
    report = verify_pdf(pdf, trust_roots=services.trust_roots, offline=True)
    assert report.verdict in ("VALID", "VALID_WITH_ALLOWED_CHANGES"), report.to_dict()


def test_audit_checkpoint_is_timestamped_and_worm(archived_demo):
    from core.errors import ArchiveError
    from workflow.jobs import audit_checkpoint

    services, _ = archived_demo
    out = audit_checkpoint(services)
    assert out["seq"] > 0 and out["timestamped"] is True
    with pytest.raises(ArchiveError):
        services.store.put(out["object_key"], b"{}", retain_until=None)
    report = services.audit.verify(services.store)
    assert report.ok, report


def test_integrity_sweep_finds_a_changed_object(archived_demo, tmp_settings):
    from workflow.jobs import integrity_sweep

    services, demo = archived_demo
    assert integrity_sweep(services)["ok"] is True
    version = max(services.index.versions(demo.document_id), key=lambda v: v.n)
    path = next(p for p in tmp_settings.data_dir.rglob("*.pdf") if version.sha256 in p.name)
    os.chmod(path, 0o600)  # what an intruder with root could do behind the WORM store's back
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    out = integrity_sweep(services)
    assert out["ok"] is False and version.object_key in out["mismatched"]
    events = [e for e in services.audit.entries(limit=100000) if e.action == "verify"]
    assert events and events[-1].details["mismatched"] == 1


def test_worker_once_runs_every_job(archived_demo, capsys):
    from api.cli import main

    rc = main(["worker", "--once"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0, out
    assert [r["job"] for r in out] == ["renew_timestamps", "audit_checkpoint", "integrity_sweep"]
