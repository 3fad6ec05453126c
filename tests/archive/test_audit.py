"""Audit chain: tamper detection, checkpoints, concurrency, who viewed (SQLite + PostgreSQL)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, select, update

from archive.audit import AuditChain, AuditRecord, entry_hash
from archive.db import make_engine
from archive.fs_store import FilesystemWormStore
from archive.models import AuditEvent, AuditHead
from core.errors import InvalidInput


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    e = make_engine(db_url)
    yield e
    e.dispose()


def _fill(chain: AuditChain, n: int = 10) -> None:
    for i in range(n):
        action = "view" if i % 3 == 0 else "sign"
        chain.append(AuditRecord(actor_id=f"user-{i % 4}", action=action, object_id="doc-1",
                                 tenant_id="70001", details={"i": i}))


def _kinds(chain: AuditChain, store: Any = None) -> set[str]:
    report = chain.verify(store)
    assert not report.ok
    return {p.kind for p in report.problems}


def test_intact_chain_verifies_and_who_viewed(engine: Engine) -> None:
    chain = AuditChain(engine)
    _fill(chain)
    report = chain.verify()
    assert report.ok and report.entries == 10 and report.last_seq == 10
    viewers = chain.who_viewed("doc-1")
    assert [v.actor_id for v in viewers] == ["user-0", "user-3", "user-2", "user-1"]
    assert all(v.action == "view" for v in viewers)
    assert chain.who_viewed("doc-2") == []


def test_patient_identifiers_refused_in_details(engine: Engine) -> None:
    chain = AuditChain(engine)
    with pytest.raises(InvalidInput):
        chain.append(AuditRecord("u", "view", "doc-1", details={"patient_cccd": "0720..."}))
    with pytest.raises(InvalidInput):
        chain.append(AuditRecord("u", "teleport", "doc-1"))
    assert chain.verify().entries == 0


def test_altered_entry(engine: Engine) -> None:
    chain = AuditChain(engine)
    _fill(chain)
    with engine.begin() as c:
        c.execute(update(AuditEvent).where(AuditEvent.seq == 4).values(actor_id="someone-else"))
    report = chain.verify()
    assert [(p.seq, p.kind) for p in report.problems] == [(4, "altered")]


def test_removed_entry(engine: Engine) -> None:
    chain = AuditChain(engine)
    _fill(chain)
    with engine.begin() as c:
        c.execute(delete(AuditEvent).where(AuditEvent.seq == 5))
    assert {"missing", "broken_link"} <= _kinds(chain)


def test_inserted_entry(engine: Engine) -> None:
    chain = AuditChain(engine)
    _fill(chain)
    with engine.begin() as c:
        rows = c.execute(select(AuditEvent).where(AuditEvent.seq >= 6)
                         .order_by(AuditEvent.seq.desc())).all()
        for r in rows:  # shift 6.. up by one, then forge a well-hashed entry at 6
            c.execute(update(AuditEvent).where(AuditEvent.seq == r.seq).values(seq=r.seq + 1))
        prev = c.execute(select(AuditEvent.hash).where(AuditEvent.seq == 5)).scalar_one()
        at = rows[-1].at
        h = entry_hash(6, prev, at, "70001", "intruder", "view", "doc-1", "{}")
        c.execute(AuditEvent.__table__.insert().values(
            seq=6, prev_hash=prev, at=at, tenant_id="70001", actor_id="intruder", action="view",
            object_id="doc-1", details="{}", hash=h))
    report = chain.verify()
    assert (6, "inserted") in [(p.seq, p.kind) for p in report.problems]


def test_reordered_entries(engine: Engine) -> None:
    chain = AuditChain(engine)
    _fill(chain)
    with engine.begin() as c:
        c.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(seq=-3))
        c.execute(update(AuditEvent).where(AuditEvent.seq == 4).values(seq=3))
        c.execute(update(AuditEvent).where(AuditEvent.seq == -3).values(seq=4))
    assert "reordered" in _kinds(chain)


def test_truncated_tail_caught_by_head_and_checkpoint(engine: Engine, tmp_path: Path) -> None:
    chain = AuditChain(engine)
    store = FilesystemWormStore(tmp_path / "worm", warn=False)
    _fill(chain)
    cp = chain.checkpoint(store)
    assert cp is not None and cp.seq == 10
    assert chain.verify(store).ok and chain.verify(store).checkpoints_checked == 1
    with engine.begin() as c:
        c.execute(delete(AuditEvent).where(AuditEvent.seq > 8))
    assert "truncated" in _kinds(chain, store)
    # a careful intruder also rewinds the head row: the WORM checkpoint still tells
    with engine.begin() as c:
        h8 = c.execute(select(AuditEvent.hash).where(AuditEvent.seq == 8)).scalar_one()
        c.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=8, hash=h8))
    assert chain.verify().ok  # without the checkpoint the truncation is invisible
    assert _kinds(chain, store) == {"truncated"}


def test_rewritten_chain_caught_by_checkpoint(engine: Engine, tmp_path: Path) -> None:
    chain = AuditChain(engine)
    store = FilesystemWormStore(tmp_path / "worm", warn=False)
    _fill(chain)
    chain.checkpoint(store)
    # alter entry 3 and recompute every later hash and the head: a consistent forgery
    with engine.begin() as c:
        rows = c.execute(select(AuditEvent).order_by(AuditEvent.seq)).all()
        prev = "0" * 64
        for r in rows:
            actor = "forger" if r.seq == 3 else r.actor_id
            h = entry_hash(r.seq, prev, r.at, r.tenant_id, actor, r.action, r.object_id,
                           r.details)
            c.execute(update(AuditEvent).where(AuditEvent.seq == r.seq)
                      .values(prev_hash=prev, actor_id=actor, hash=h))
            prev = h
        c.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=prev))
    assert chain.verify().ok
    assert _kinds(chain, store) == {"checkpoint_mismatch"}


def test_concurrent_appends_stay_one_chain(engine: Engine) -> None:
    chain = AuditChain(engine)

    def worker(w: int) -> None:
        for i in range(15):
            chain.append(AuditRecord(f"user-{w}", "view", f"doc-{i}", "70001", {"w": w}))

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(worker, range(4)))
    report = chain.verify()
    assert report.ok and report.entries == 60 and report.last_seq == 60


@pytest.mark.services
def test_checkpoint_timestamped_by_rfc3161_tsa(engine: Engine, test_services: Any,
                                              tmp_path: Path) -> None:
    """The TSA of the test PKI over HTTP; the callable stands in for pyHanko's timestamper."""
    import httpx
    from asn1crypto import tsp

    def timestamp(digest: bytes) -> bytes:
        req = tsp.TimeStampReq({"version": 1, "message_imprint": {
            "hash_algorithm": {"algorithm": "sha256"}, "hashed_message": digest},
            "cert_req": True})
        resp = httpx.post(test_services.tsa_url, content=req.dump(), timeout=30,
                          headers={"Content-Type": "application/timestamp-query"})
        resp.raise_for_status()
        parsed = tsp.TimeStampResp.load(resp.content)
        assert parsed["status"]["status"].native == "granted"
        return parsed["time_stamp_token"].dump()

    chain = AuditChain(engine)
    _fill(chain, 3)
    store = FilesystemWormStore(tmp_path / "worm", warn=False)
    cp = chain.checkpoint(store, timestamp)
    assert cp is not None and cp.timestamp_token
    from asn1crypto import cms

    token = cms.ContentInfo.load(cp.timestamp_token)
    tst = token["content"]["encap_content_info"]["content"].parsed
    (key,) = list(store.list("audit/"))
    body = AuditChain.read_checkpoints(store)[0]
    digest = hashlib.sha256(
        __import__("json").dumps({k: body[k] for k in ("seq", "hash", "at")},
                                 sort_keys=True).encode()).digest()
    assert tst["message_imprint"]["hashed_message"].native == digest
    assert key.startswith("audit/checkpoints/000000000003-")
