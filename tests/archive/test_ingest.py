"""Ingest, search and versions on SQLite/PostgreSQL × filesystem/S3."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from archive.ingest import Archiver, DocumentMeta, IngestItem, SignatureRecord
from archive.integrity import check_archive
from archive.models import Document, PendingIngest
from archive.renewal import due_for_renewal
from core.errors import ArchiveError, InvalidInput


def _item(doc: str, data: bytes, **meta: object) -> IngestItem:
    base: dict[str, object] = {"tenant_id": "70001", "form_code": "consent_surgery"}
    base.update(meta)
    return IngestItem(document_id=doc, data=data, meta=DocumentMeta(**base),  # type: ignore[arg-type]
                      actor_id="doctor-an",
                      signatures=(SignatureRecord("doctor", "doctor", "CN=Nguyen Van An",
                                                  "pkcs11", "B-LTA", datetime.now(UTC),
                                                  "prac-an"),))


def test_ingest_versions_idempotent_and_audited(archiver: Archiver) -> None:
    r1 = archiver.archive_document(_item("doc-a", b"%PDF v1", patient_cccd="072090001234"))
    assert (r1.version, r1.duplicate) == (1, False)
    assert archiver.store.get(r1.object_key) == b"%PDF v1"
    again = archiver.archive_document(_item("doc-a", b"%PDF v1"))
    assert again.duplicate and again.version == 1 and again.object_key == r1.object_key
    r2 = archiver.archive_document(_item("doc-a", b"%PDF v2 with patient seal"))
    assert r2.version == 2 and r2.object_key.startswith("70001/") and "/doc-a/v2-" in r2.object_key
    versions = archiver.index.versions("doc-a")
    assert [v.n for v in versions] == [1, 2]
    assert [v.sha256 for v in versions] == [r1.sha256, r2.sha256]
    info = archiver.index.get("doc-a")
    assert info.current_version == 2 and info.retain_until is not None
    assert len(archiver.index.signatures("doc-a")) == 2
    entries = archiver.audit.entries()
    assert [(e.action, e.details["version"]) for e in entries] == [("create", 1), ("archive", 2)]
    assert archiver.audit.verify().ok
    assert check_archive(archiver.index, archiver.store).ok


def test_batch_ingest_and_search(archiver: Archiver) -> None:
    t0 = datetime.now(UTC) - timedelta(seconds=1)
    items = [_item(f"doc-{i:03d}", os.urandom(64),
                   patient_cccd="072090001234" if i % 2 else "079185000111",
                   patient_bhyt="DN4797912345678" if i % 2 else None,
                   encounter_ref=f"enc-{i % 3}", department="khoa-ngoai" if i < 5 else "khoa-noi",
                   form_code="lab_result" if i % 4 == 0 else "consent_surgery")
             for i in range(12)]
    receipts = archiver.archive_documents(items, max_workers=4)
    assert len({r.object_key for r in receipts}) == 12
    idx = archiver.index
    page = idx.search("70001", patient_cccd="072090001234", limit=4)
    seen = [d.id for d in page.items]
    while page.next_cursor:
        page = idx.search("70001", patient_cccd="072090001234", limit=4, cursor=page.next_cursor)
        seen += [d.id for d in page.items]
    assert sorted(seen) == [f"doc-{i:03d}" for i in range(12) if i % 2]
    assert len(seen) == len(set(seen))
    assert {d.id for d in idx.search("70001", patient_bhyt="DN4797912345678").items} == set(seen)
    assert {d.id for d in idx.search("70001", encounter_ref="enc-0").items} == {
        f"doc-{i:03d}" for i in range(12) if i % 3 == 0}
    assert {d.id for d in idx.search("70001", form_code="lab_result").items} == {
        "doc-000", "doc-004", "doc-008"}
    assert len(idx.search("70001", department="khoa-ngoai").items) == 5
    assert len(idx.search("70001", signer="prac-an", limit=100).items) == 12
    assert len(idx.search("70001", signer="CN=Nguyen Van An", limit=100).items) == 12
    assert idx.search("70001", signer="prac-nobody").items == ()
    assert len(idx.search("70001", created_from=t0, status="archived", limit=100).items) == 12
    assert idx.search("70001", created_to=t0).items == ()
    assert idx.search("other-hospital").items == ()
    with pytest.raises(InvalidInput):
        idx.search("70001", cursor="not-a-cursor")


def test_optimistic_concurrency_on_documents(sqlite_archiver: Archiver) -> None:
    a = sqlite_archiver
    a.archive_document(_item("doc-c", b"%PDF c"))
    with a.index.sessions() as s1, a.index.sessions() as s2:
        d1, d2 = s1.get(Document, "doc-c"), s2.get(Document, "doc-c")
        assert d1 is not None and d2 is not None
        d1.status = "amended"
        s1.commit()
        d2.status = "other"
        with pytest.raises(StaleDataError):
            s2.commit()


def test_renewal_due(sqlite_archiver: Archiver) -> None:
    a = sqlite_archiver
    soon = datetime.now(UTC) + timedelta(days=20)
    late = datetime.now(UTC) + timedelta(days=400)
    a.archive_document(IngestItem("doc-soon", b"%PDF s", DocumentMeta("70001", "lab_result"),
                                  "u", last_timestamp_expiry=soon))
    a.archive_document(IngestItem("doc-late", b"%PDF l", DocumentMeta("70001", "lab_result"),
                                  "u", last_timestamp_expiry=late))
    with a.index.sessions() as s:
        due = due_for_renewal(s, 30)
        assert [d.document_id for d in due] == ["doc-soon"]
        assert {d.document_id for d in due_for_renewal(s, 500)} == {"doc-soon", "doc-late"}
    # re-timestamped as a new version: no longer due
    a.archive_document(IngestItem("doc-soon", b"%PDF s+ts", DocumentMeta("70001", "lab_result"),
                                  "u", reason="retimestamp", last_timestamp_expiry=late))
    with a.index.sessions() as s:
        assert due_for_renewal(s, 30) == []


def test_integrity_check_finds_missing_extra_mismatched(sqlite_archiver: Archiver) -> None:
    a = sqlite_archiver
    r = a.archive_document(_item("doc-i", b"%PDF intact"))
    r2 = a.archive_document(_item("doc-j", b"%PDF lost"))
    # an extra object nobody indexed, and a tampered one
    from archive.keys import object_key
    from archive.store import sha256_hex

    stray = object_key("70001", (2026, 1), "ghost", 1, sha256_hex(b"ghost"))
    a.store.put(stray, b"ghost")
    root = a.store.root  # type: ignore[attr-defined]
    (root / r.object_key).chmod(0o644)
    (root / r.object_key).write_bytes(b"%PDF forged")
    (root / r2.object_key).chmod(0o644)
    (root / r2.object_key).unlink()
    report = check_archive(a.index, a.store)
    assert report.mismatched == [r.object_key]
    assert report.missing == [r2.object_key]
    assert report.extra == [stray]
    assert not report.ok


def test_pipelined_stream_acknowledges_every_document(archiver: Archiver) -> None:
    docs = [_item(f"doc-s{i:03d}", os.urandom(256)) for i in range(23)]
    docs.append(_item("doc-s000", b"%PDF second version of the first"))
    receipts = archiver.archive_stream(docs, batch_size=5, max_workers=3)
    assert [r.document_id for r in receipts] == [d.document_id for d in docs]
    assert receipts[-1].version == 2 and not receipts[-1].duplicate
    assert len({r.object_key for r in receipts}) == 24
    assert archiver.audit.verify().ok and archiver.audit.verify().entries == 24
    assert check_archive(archiver.index, archiver.store).ok
    again = archiver.archive_stream(docs, batch_size=7, max_workers=2)
    assert all(r.duplicate for r in again)
    assert [r.object_key for r in again] == [r.object_key for r in receipts]


def test_one_batch_with_two_versions_of_a_new_document(archiver: Archiver) -> None:
    """Rows of a document created and versioned in the same batch merge into one row."""
    receipts = archiver.archive_documents(
        [_item("doc-twice", b"%PDF first", department="khoa-ngoai"),
         _item("doc-other", b"%PDF other"),
         _item("doc-twice", b"%PDF second, sealed", status="completed")], max_workers=2)
    assert [(r.document_id, r.version) for r in receipts] == [
        ("doc-twice", 1), ("doc-other", 1), ("doc-twice", 2)]
    info = archiver.index.get("doc-twice")
    assert (info.current_version, info.status, info.department) == (2, "completed", "khoa-ngoai")
    assert info.row_version == 1
    assert [a.action for a in archiver.audit.entries()] == ["create", "create", "archive"]
    page = archiver.index.search("70001", signer="prac-an")
    assert sorted(d.id for d in page.items) == ["doc-other", "doc-twice"]
    # a later version of an existing document goes through the ORM (row_version raised)
    archiver.archive_document(_item("doc-twice", b"%PDF third"))
    assert archiver.index.get("doc-twice").row_version == 2


def test_batch_completed_meanwhile_by_reconcile_is_acknowledged_once(
        archiver: Archiver) -> None:
    """Reconcile finishes a stored intent while its ingest is still running: the ingest
    answers from the version row (duplicate) and nothing is registered twice."""
    from archive.ingest import reconcile

    items = [_item("doc-race", b"%PDF race"), _item("doc-calm", b"%PDF calm")]
    results, todo, stored = archiver._start_puts(items, 2)  # intents, objects stored
    version_ids = {p.id: f.result() for (_, p), f in zip(todo, stored, strict=True)}
    assert len(reconcile(archiver, min_age_s=0).completed) == 2
    receipts = archiver._finish(items, results, todo, version_ids)
    assert [(r.document_id, r.version, r.duplicate) for r in receipts] == [
        ("doc-race", 1, True), ("doc-calm", 1, True)]
    assert all(r.version_id == v.version_id for r, v in zip(
        receipts, [archiver.index.versions(d)[0] for d in ("doc-race", "doc-calm")],
        strict=True))
    assert [e.action for e in archiver.audit.entries()] == ["create", "create", "reconcile"]
    assert check_archive(archiver.index, archiver.store).ok


def test_a_put_that_fails_while_the_index_is_prepared_registers_nothing(
        archiver: Archiver, monkeypatch: pytest.MonkeyPatch) -> None:
    """The index transaction starts while the objects are on their way: when one put
    fails, the store's error is raised and nothing of the batch is indexed or audited
    (the intents stay for reconcile); the batch then goes through once the store works.
    The failure is injected into the real store's put (no real store fails on demand)."""
    real_put = archiver.store.put
    entries_before = len(archiver.audit.entries())

    def failing_put(key: str, data: bytes, **kw: object) -> object:
        if b"broken" in data:
            raise ArchiveError("archive.store_unavailable", "Kho lưu trữ không trả lời.",
                               "The object store did not answer.")
        return real_put(key, data, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(archiver.store, "put", failing_put)
    items = [_item("doc-fine", b"%PDF fine"), _item("doc-broken", b"%PDF broken")]
    with pytest.raises(ArchiveError) as err:
        archiver.archive_documents(items)
    assert err.value.code == "archive.store_unavailable"
    assert archiver.index.versions("doc-fine") == []
    assert archiver.index.versions("doc-broken") == []
    assert len(archiver.audit.entries()) == entries_before
    with archiver.index.sessions() as s:
        assert len(s.execute(select(PendingIngest)).scalars().all()) == 2
    monkeypatch.setattr(archiver.store, "put", real_put)
    receipts = archiver.archive_documents(items)
    assert [(r.document_id, r.version) for r in receipts] == [("doc-fine", 1), ("doc-broken", 1)]
    with archiver.index.sessions() as s:
        assert s.execute(select(PendingIngest)).scalars().all() == []
    assert check_archive(archiver.index, archiver.store).ok
