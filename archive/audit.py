"""Hash-chained audit log (DESIGN §5): who did what to which record, and when.

Each entry's hash covers its sequence number, the previous entry's hash, the
time (UTC), tenant, actor, action, object and details (never patient
identifiers). Appends are serialised on the ``audit_head`` row (``SELECT ...
FOR UPDATE`` on PostgreSQL; SQLite's single writer lock, taken first by an
``UPDATE``). Checkpoints (last seq and hash, optionally RFC 3161 timestamped
through a caller-supplied ``timestamp_fn``) are written as WORM objects, so a
rewritten or truncated chain is caught against them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.orm import Session

from archive.models import AuditCheckpoint, AuditEvent, AuditHead
from archive.store import ObjectStore
from core.errors import InvalidInput

GENESIS = "0" * 64
ACTIONS = frozenset({
    "create", "view", "print", "export", "sign", "verify", "archive", "retention_change",
    "legal_hold", "destruction_request", "destruction_approve", "destroy", "login",
    "reconcile", "restore", "seal",
})
VIEW_ACTIONS = ("view", "print", "export")
_FORBIDDEN_DETAIL_KEYS = ("cccd", "bhyt", "patient_name", "name", "dob", "birth", "address",
                          "phone", "identifier", "content", "ssn")
CHECKPOINT_PREFIX = "audit/checkpoints/"
TimestampFn = Callable[[bytes], bytes]


@dataclass(frozen=True)
class AuditRecord:
    """One event to append."""

    actor_id: str
    action: str
    object_id: str | None = None
    tenant_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    at: datetime | None = None


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    prev_hash: str
    at: datetime
    tenant_id: str | None
    actor_id: str
    action: str
    object_id: str | None
    details: dict[str, Any]
    hash: str


@dataclass(frozen=True)
class AuditProblem:
    seq: int
    kind: str
    """``altered``, ``broken_link``, ``missing``, ``inserted``, ``reordered``, ``truncated``,
    ``checkpoint_mismatch`` or ``head_mismatch``."""
    message_vi: str
    message_en: str


@dataclass(frozen=True)
class AuditReport:
    ok: bool
    entries: int
    last_seq: int
    last_hash: str
    checkpoints_checked: int
    problems: tuple[AuditProblem, ...]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "problems": [asdict(p) for p in self.problems]}


@dataclass(frozen=True)
class Checkpoint:
    """A WORM-stored snapshot of the chain head."""

    seq: int
    hash: str
    at: datetime
    object_key: str
    timestamp_token: bytes | None


@dataclass(frozen=True)
class ViewRecord:
    at: datetime
    actor_id: str
    action: str
    tenant_id: str | None


def _canonical(seq: int, prev: str, at: datetime, tenant: str | None, actor: str, action: str,
               obj: str | None, details_json: str) -> bytes:
    return json.dumps(
        [seq, prev, at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), tenant, actor, action,
         obj, details_json], ensure_ascii=False, separators=(",", ":"),
    ).encode()


def entry_hash(seq: int, prev: str, at: datetime, tenant: str | None, actor: str, action: str,
               obj: str | None, details_json: str) -> str:
    return hashlib.sha256(_canonical(seq, prev, at, tenant, actor, action, obj,
                                     details_json)).hexdigest()


def _check_details(details: dict[str, Any]) -> str:
    for key in details:
        low = key.lower()
        if any(bad in low for bad in _FORBIDDEN_DETAIL_KEYS):
            raise InvalidInput(
                "audit.patient_identifier",
                f"Chi tiết nhật ký không được chứa định danh bệnh nhân (trường '{key}').",
                f"Audit details must not carry patient identifiers (field '{key}').",
            )
    return json.dumps(details, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      default=str)


class AuditChain:
    """The audit log of one records index."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- append ---------------------------------------------------------------------
    def append(self, record: AuditRecord, session: Session | None = None) -> AuditEntry:
        """Append ``record``; inside ``session`` (caller commits) or in its own transaction."""
        if session is not None:
            return self._append_batch(session, [record])[0]
        with Session(self.engine) as own, own.begin():
            return self._append_batch(own, [record])[0]

    def append_many(self, records: Sequence[AuditRecord],
                    session: Session | None = None) -> list[AuditEntry]:
        """Append several events under one lock of the head (one flush)."""
        if session is not None:
            return self._append_batch(session, records)
        with Session(self.engine) as own, own.begin():
            return self._append_batch(own, records)

    def _append_batch(self, session: Session, records: Sequence[AuditRecord]
                      ) -> list[AuditEntry]:
        prepared = []
        for record in records:
            if record.action not in ACTIONS:
                raise InvalidInput("audit.unknown_action",
                                   f"Hành động không rõ: {record.action}",
                                   f"Unknown audit action: {record.action}")
            prepared.append((record, _check_details(record.details)))
        if self.engine.dialect.name == "sqlite":
            # Take SQLite's write lock before reading the head (no FOR UPDATE there).
            session.execute(update(AuditHead).where(AuditHead.id == 1)
                            .values(seq=AuditHead.seq))
        head = session.execute(
            select(AuditHead).where(AuditHead.id == 1).with_for_update()
            .execution_options(populate_existing=True)).scalar_one_or_none()
        if head is None:
            head = AuditHead(id=1, seq=0, hash=GENESIS)
            session.add(head)
            session.flush()
        seq, prev = head.seq, head.hash
        entries = []
        rows: list[dict[str, Any]] = []
        for record, details_json in prepared:
            seq += 1
            at = record.at or datetime.now(UTC)
            digest = entry_hash(seq, prev, at, record.tenant_id, record.actor_id, record.action,
                                record.object_id, details_json)
            rows.append({"seq": seq, "prev_hash": prev, "at": at, "tenant_id": record.tenant_id,
                         "actor_id": record.actor_id, "action": record.action,
                         "object_id": record.object_id, "details": details_json,
                         "hash": digest})
            entries.append(AuditEntry(seq, prev, at, record.tenant_id, record.actor_id,
                                      record.action, record.object_id, dict(record.details),
                                      digest))
            prev = digest
        session.execute(insert(AuditEvent), rows)  # one executemany, no ORM objects
        head.seq, head.hash = seq, prev
        session.flush()
        return entries

    # -- queries --------------------------------------------------------------------------
    def who_viewed(self, document_id: str) -> list[ViewRecord]:
        """Every view, print and export of a document, oldest first."""
        with Session(self.engine) as s:
            rows = s.execute(
                select(AuditEvent).where(AuditEvent.object_id == document_id,
                                         AuditEvent.action.in_(VIEW_ACTIONS))
                .order_by(AuditEvent.seq)).scalars()
            return [ViewRecord(r.at, r.actor_id, r.action, r.tenant_id) for r in rows]

    def entries(self, after_seq: int = 0, limit: int = 1000) -> list[AuditEntry]:
        with Session(self.engine) as s:
            rows = s.execute(select(AuditEvent).where(AuditEvent.seq > after_seq)
                             .order_by(AuditEvent.seq).limit(limit)).scalars()
            return [AuditEntry(r.seq, r.prev_hash, r.at, r.tenant_id, r.actor_id, r.action,
                               r.object_id, json.loads(r.details), r.hash) for r in rows]

    # -- checkpoints ----------------------------------------------------------------------
    def checkpoint(self, store: ObjectStore, timestamp_fn: TimestampFn | None = None,
                   *, retain_until: Any = None) -> Checkpoint | None:
        """Write the current head as a WORM object (timestamped when ``timestamp_fn``)."""
        with Session(self.engine) as s, s.begin():
            head = s.get(AuditHead, 1)
            if head is None or head.seq == 0:
                return None
            if s.get(AuditCheckpoint, head.seq) is not None:
                return None
            at = datetime.now(UTC)
            body = {"seq": head.seq, "hash": head.hash,
                    "at": at.strftime("%Y-%m-%dT%H:%M:%SZ")}
            digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).digest()
            token = timestamp_fn(digest) if timestamp_fn else None
            if token is not None:
                import base64

                body["timestamp_token"] = base64.b64encode(token).decode()
            data = json.dumps(body, sort_keys=True).encode()
            key = (f"{CHECKPOINT_PREFIX}{head.seq:012d}-"
                   f"{hashlib.sha256(data).hexdigest()}.json")
            stored = store.put(key, data, retain_until=retain_until)
            s.add(AuditCheckpoint(seq=head.seq, hash=head.hash, at=at, object_key=key,
                                  version_id=stored.version_id, timestamp_token=token))
            return Checkpoint(head.seq, head.hash, at, key, token)

    @staticmethod
    def read_checkpoints(store: ObjectStore) -> list[dict[str, Any]]:
        out = []
        for key in store.list(CHECKPOINT_PREFIX):
            out.append(json.loads(store.get(key)))
        return sorted(out, key=lambda c: int(c["seq"]))

    # -- verification ---------------------------------------------------------------------
    def verify(self, store: ObjectStore | None = None, batch: int = 5000) -> AuditReport:
        """Recompute the chain; compare with the head row and the WORM checkpoints."""
        problems: list[AuditProblem] = []
        by_seq: dict[int, str] = {}
        prev_hash, prev_seq, prev_at, count = GENESIS, 0, None, 0
        prev_link_ok = True
        hashes_seen: dict[str, int] = {}
        with Session(self.engine) as s:
            last = 0
            while True:
                rows: Sequence[AuditEvent] = s.execute(
                    select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq)
                    .limit(batch)).scalars().all()
                if not rows:
                    break
                for r in rows:
                    count += 1
                    recomputed = entry_hash(r.seq, r.prev_hash, r.at, r.tenant_id, r.actor_id,
                                            r.action, r.object_id, r.details)
                    if recomputed != r.hash:
                        problems.append(_p(r.seq, "altered", "nội dung bản ghi đã bị sửa",
                                           "entry content was altered"))
                    if r.seq != prev_seq + 1:
                        problems.append(_p(r.seq, "missing",
                                           f"thiếu bản ghi {prev_seq + 1}..{r.seq - 1}",
                                           f"entries {prev_seq + 1}..{r.seq - 1} are missing"))
                    link_ok = r.prev_hash == prev_hash
                    if not link_ok:
                        linked = hashes_seen.get(r.prev_hash)
                        if linked is not None and linked == r.seq - 2 and prev_link_ok:
                            problems.append(_p(r.seq - 1, "inserted",
                                               f"bản ghi {r.seq - 1} bị chèn vào chuỗi",
                                               f"entry {r.seq - 1} was inserted into the chain"))
                        elif linked is not None:
                            problems.append(_p(r.seq, "reordered",
                                               f"liên kết tới bản ghi {linked}: sai thứ tự",
                                               f"entry links to entry {linked}: order changed"))
                        else:
                            problems.append(_p(r.seq, "broken_link",
                                               "mã băm trước không khớp (bị chèn/xóa)",
                                               "previous hash does not match "
                                               "(inserted or removed entry)"))
                    prev_link_ok = link_ok
                    if prev_at is not None and r.at < prev_at:
                        problems.append(_p(r.seq, "reordered", "thời gian đi lùi",
                                           "time goes backwards"))
                    hashes_seen[r.hash] = r.seq
                    by_seq[r.seq] = r.hash
                    prev_hash, prev_seq, prev_at = r.hash, r.seq, r.at
                last = rows[-1].seq
            head = s.get(AuditHead, 1)
            if head is not None and (head.seq != prev_seq or head.hash != prev_hash):
                kind = "truncated" if head.seq > prev_seq else "head_mismatch"
                problems.append(_p(prev_seq, kind,
                                   f"đầu chuỗi ghi seq {head.seq}, cuối bảng là {prev_seq}",
                                   f"chain head says seq {head.seq}, table ends at {prev_seq}"))
        checked = 0
        if store is not None:
            for cp in self.read_checkpoints(store):
                checked += 1
                seq, want = int(cp["seq"]), str(cp["hash"])
                if seq > prev_seq:
                    problems.append(_p(seq, "truncated",
                                       f"điểm kiểm tra WORM ở seq {seq} nhưng chuỗi dừng ở "
                                       f"{prev_seq}", f"WORM checkpoint at seq {seq} but the "
                                       f"chain ends at {prev_seq}"))
                elif by_seq.get(seq) != want:
                    problems.append(_p(seq, "checkpoint_mismatch",
                                       "bản ghi không khớp điểm kiểm tra WORM (chuỗi bị viết lại)",
                                       "entry differs from the WORM checkpoint "
                                       "(chain rewritten)"))
        return AuditReport(not problems, count, prev_seq, prev_hash, checked, tuple(problems))


def _p(seq: int, kind: str, vi: str, en: str) -> AuditProblem:
    return AuditProblem(seq, kind, vi, en)


def chain_length(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(AuditEvent)).scalar_one())
