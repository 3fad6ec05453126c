"""A forged newer version at a locked key (S3 versioning) is never read, and is reported.

Object Lock keeps the locked original, but a versioned bucket lets anyone with
put rights add a newer version at the same key. Run on the real SeaweedFS
Object Lock bucket with the service's own (writer) credentials.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from archive.db import make_engine
from archive.index import RecordsIndex
from archive.ingest import Archiver, DocumentMeta, IngestItem, reconcile
from archive.integrity import check_archive
from archive.lifecycle import RecordLifecycle
from archive.models import PendingIngest
from archive.s3 import S3ObjectLockStore
from archive.store import sha256_hex
from tests.archive.conftest import s3_store


def _forge(store: S3ObjectLockStore, key: str, data: bytes) -> None:
    """PUT a newer version at ``key``, its metadata claiming its own sha256."""
    store.client.put_object(store.bucket, store.prefix + key, io.BytesIO(data), len(data),
                            metadata={"sha256": sha256_hex(data)})


def _newest(store: S3ObjectLockStore, key: str) -> bytes:
    resp = store.client.get_object(store.bucket, store.prefix + key)  # no version: the newest
    try:
        return resp.read()
    finally:
        resp.close()
        resp.release_conn()


@pytest.fixture
def s3_archiver(db_url: str, test_services: Any) -> Iterator[Archiver]:
    engine = make_engine(db_url)
    yield Archiver(RecordsIndex(engine), s3_store(test_services))
    engine.dispose()


@pytest.mark.services
def test_forged_reput_is_not_read_and_check_reports_it(s3_archiver: Archiver) -> None:
    store = s3_archiver.store
    assert isinstance(store, S3ObjectLockStore)
    original = b"%PDF-1.7 signed consent " + uuid.uuid4().bytes
    receipt = s3_archiver.archive_document(IngestItem(
        "doc-forge", original, DocumentMeta("70001", "consent_surgery"), "doctor-an"))
    [indexed] = s3_archiver.index.versions("doc-forge")
    assert receipt.version_id and indexed.version_id == receipt.version_id
    assert check_archive(s3_archiver.index, store).ok

    # The writer identity re-PUTs the same key: same key, other content.
    forged = b"%PDF-1.7 forged consent"
    _forge(store, receipt.object_key, forged)
    assert _newest(store, receipt.object_key) == forged  # what an unpinned read would see
    assert store.get(receipt.object_key, indexed.version_id) == original
    assert store.get(receipt.object_key) == original  # no id: the key's original version
    assert store.stat(receipt.object_key).version_id == indexed.version_id
    report = check_archive(s3_archiver.index, store)
    assert report.overwritten == [receipt.object_key]
    assert not report.ok and not report.missing and not report.mismatched
    assert json.loads(json.dumps(report.to_dict()))["overwritten"] == [receipt.object_key]

    # A delete marker on top hides nothing either.
    store.client.remove_object(store.bucket, store.prefix + receipt.object_key)
    assert store.exists(receipt.object_key)
    assert store.get(receipt.object_key, indexed.version_id) == original
    report = check_archive(s3_archiver.index, store)
    assert report.overwritten == [receipt.object_key] and not report.missing

    # Legal hold goes on the locked original, not on the forgery.
    RecordLifecycle(s3_archiver).place_hold("doc-forge", "auditor-binh", "court order")
    assert store.stat(receipt.object_key, indexed.version_id).legal_hold
    RecordLifecycle(s3_archiver).release_hold("doc-forge", "auditor-binh")
    assert not store.stat(receipt.object_key, indexed.version_id).legal_hold


@pytest.mark.services
def test_reconcile_records_the_original_version_despite_a_forgery(
        s3_archiver: Archiver) -> None:
    """A crash after the put loses the version id; reconcile takes the key's first write,
    even when a forged newer version was put at the key meanwhile."""
    store = s3_archiver.store
    assert isinstance(store, S3ObjectLockStore)
    original = b"%PDF-1.7 discharge paper " + uuid.uuid4().bytes
    item = IngestItem("doc-crash", original, DocumentMeta("70001", "discharge_paper"), "dr-an")
    _, todo, stored = s3_archiver._start_puts([item], 1)  # intent + put, then "crash"
    [(_, pending)] = todo
    first_vid = stored[0].result()
    _forge(store, pending.object_key, b"%PDF-1.7 forged discharge paper")
    with s3_archiver.index.sessions() as s:
        assert s.get(PendingIngest, pending.id) is not None
    assert reconcile(s3_archiver, min_age_s=0).completed == (pending.object_key,)
    [indexed] = s3_archiver.index.versions("doc-crash")
    assert indexed.version_id == first_vid
    assert store.get(indexed.object_key, indexed.version_id) == original
    assert check_archive(s3_archiver.index, store).overwritten == [pending.object_key]
