"""``DbPendingStore``: the pending state of app-confirmed signatures in the index
database (PostgreSQL, and SQLite), replaced in one transaction per save; and the
choice of store (database on PostgreSQL, files for the embedded default)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine

from api.remote.pending_db import DbPendingStore, pending_store_for
from hsm.remote.pending import FilePendingStore, PendingDocument, PendingTransaction


def _tx(status: str = "pending") -> PendingTransaction:
    now = datetime.now(UTC)
    doc = PendingDocument(doc_id="d1", prepared_pdf_b64="JVBERi0=", document_digest_hex="ab",
                          region_start=10, region_end=20, signed_attrs_b64="MAA=",
                          data_to_be_signed="cd" * 32)
    return PendingTransaction(
        transaction_id=uuid.uuid4().hex, user_id="079000000001", cert_b64="MIIB",
        chain_b64=("MIIC", "MIID"), sign_algo="sha256_rsa", created_at=now.isoformat(),
        expires_at=(now + timedelta(minutes=5)).isoformat(), documents=(doc, doc),
        status=status)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'index.db'}" if request.param == "sqlite" \
        else request.getfixturevalue("test_services").pg_url
    eng = create_engine(url)
    yield eng
    eng.dispose()


def test_save_load_and_pending(engine: Engine) -> None:
    store = DbPendingStore(engine)
    tx = _tx()
    store.save(tx)
    assert store.load(tx.transaction_id) == tx  # every field, tuples included
    assert tx.transaction_id in {t.transaction_id for t in store.pending()}
    done = replace(tx, tran_code="T-1", status="completed", signed_b64={"d1": "JVBERi0x"})
    store.save(done)
    assert store.load(tx.transaction_id) == done
    assert tx.transaction_id not in {t.transaction_id for t in store.pending()}
    # a second instance (another process, after a restart) reads the same state
    assert DbPendingStore(engine).load(tx.transaction_id) == done
    assert store.load(uuid.uuid4().hex) is None


def test_embedded_default_keeps_the_file_store(tmp_path: Path) -> None:
    sqlite = create_engine(f"sqlite:///{tmp_path / 'index.db'}")
    try:
        assert isinstance(pending_store_for(sqlite, tmp_path), FilePendingStore)
    finally:
        sqlite.dispose()


@pytest.mark.services
def test_postgresql_uses_the_database_store(test_services: Any, tmp_path: Path) -> None:
    pg = create_engine(test_services.pg_url)
    try:
        assert isinstance(pending_store_for(pg, tmp_path), DbPendingStore)
    finally:
        pg.dispose()


@pytest.mark.parametrize("kind", ["file", "database"])
def test_settle_happens_once(kind: str, engine: Engine, tmp_path: Path) -> None:
    """A webhook and the polling job racing: the first ``settle`` wins, the second writes
    nothing (the file store locks across processes, the database compares the status)."""
    store = FilePendingStore(tmp_path / "files") if kind == "file" else DbPendingStore(engine)
    tx = _tx()
    store.save(tx)
    rejected = replace(tx, status="rejected")
    completed = replace(tx, status="completed", signed_b64={"d1": "JVBERi0x"})
    assert store.settle(rejected) is True
    assert store.settle(completed) is False
    assert store.load(tx.transaction_id) == rejected
    unknown = replace(_tx(), status="completed")
    assert store.settle(unknown) is False and store.load(unknown.transaction_id) is None


@pytest.mark.parametrize("kind", ["file", "database"])
def test_results_are_merged_and_completed_transactions_listed(
        kind: str, engine: Engine, tmp_path: Path) -> None:
    """Per-document results (the workflow's take-over) merge without losing one another,
    from concurrent threads; ``completed_since`` lists completed transactions only, from
    the given time on."""
    import threading

    store = FilePendingStore(tmp_path / "files") if kind == "file" else DbPendingStore(engine)
    old = replace(_tx("completed"), created_at=(datetime.now(UTC) - timedelta(days=3))
                  .isoformat())
    done, waiting = _tx("completed"), _tx()
    for tx in (old, done, waiting):
        store.save(tx)
    results = {f"doc-{i}": {"state": "archived", "version": i} for i in range(8)}
    threads = [threading.Thread(target=store.record_result,
                                args=(done.transaction_id, k, v)) for k, v in results.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    loaded = store.load(done.transaction_id)
    assert loaded is not None and loaded.results == results
    assert loaded.status == "completed" and loaded.documents == done.documents
    since = datetime.now(UTC) - timedelta(days=1)
    listed = {t.transaction_id for t in store.completed_since(since)}
    assert done.transaction_id in listed
    assert old.transaction_id not in listed and waiting.transaction_id not in listed
    with pytest.raises(ValueError):
        store.record_result(uuid.uuid4().hex, "d", {})
