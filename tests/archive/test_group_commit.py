"""Concurrent single-document ingests share batches (group commit), each acknowledged
only once its batch committed; one bad document does not fail the others."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from archive.ingest import Archiver, DocumentMeta, IngestItem, IngestReceipt
from archive.integrity import check_archive
from core.errors import InvalidInput


def _item(doc: str, tenant: str = "70001") -> IngestItem:
    return IngestItem(doc, f"%PDF {doc}".encode(), DocumentMeta(tenant, "lab_result"), "dr-an")


def _wait_for(cond: object, what: str) -> None:
    deadline = time.monotonic() + 20
    while not cond():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _gated(archiver: Archiver) -> tuple[list[int], threading.Event]:
    """Record batch sizes; hold the first batch until the gate opens."""
    sizes: list[int] = []
    gate = threading.Event()
    real = archiver.archive_documents

    def spy(items: Sequence[IngestItem], *, max_workers: int = 8) -> list[IngestReceipt]:
        sizes.append(len(items))
        if len(sizes) == 1:
            assert gate.wait(20)
        return real(items, max_workers=max_workers)

    archiver.archive_documents = spy  # type: ignore[method-assign]
    return sizes, gate


def test_calls_arriving_during_a_batch_share_the_next_one(sqlite_archiver: Archiver) -> None:
    a = sqlite_archiver
    sizes, gate = _gated(a)
    with ThreadPoolExecutor(6) as pool:
        first = pool.submit(a.archive_document, _item("doc-0"))
        _wait_for(lambda: sizes == [1], "the first batch")
        rest = [pool.submit(a.archive_document, _item(f"doc-{i}")) for i in range(1, 6)]
        _wait_for(lambda: len(a._group._queue) == 5, "five queued calls")
        assert not any(f.done() for f in rest)  # nothing acknowledged before its commit
        gate.set()
        receipts = [first.result()] + [f.result() for f in rest]
    assert sizes == [1, 5]
    assert [r.document_id for r in receipts] == [f"doc-{i}" for i in range(6)]
    assert all(r.version == 1 and not r.duplicate for r in receipts)
    assert a.audit.verify().ok and a.audit.verify().entries == 6
    assert check_archive(a.index, a.store).ok


def test_one_bad_document_fails_alone(sqlite_archiver: Archiver) -> None:
    a = sqlite_archiver
    sizes, gate = _gated(a)
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(a.archive_document, _item("doc-a"))
        _wait_for(lambda: sizes == [1], "the first batch")
        good = pool.submit(a.archive_document, _item("doc-b"))
        bad = pool.submit(a.archive_document, _item("doc-c", tenant="../etc"))
        _wait_for(lambda: len(a._group._queue) == 2, "two queued calls")
        gate.set()
        assert first.result().version == 1
        assert good.result().document_id == "doc-b"
        with pytest.raises(InvalidInput):
            bad.result()
    assert sizes[:2] == [1, 2]  # the shared batch failed, then each ran alone
    assert [v.n for v in a.index.versions("doc-b")] == [1]
    assert a.audit.verify().ok and a.audit.verify().entries == 2
