"""Pending app-confirmed signatures in the index database (:class:`DbPendingStore`).

One row per provider transaction in ``remote_pending_transactions``: the ids, the
status, the times, and the whole :class:`~hsm.remote.pending.PendingTransaction` as
JSON text (prepared PDFs, signed attributes, certificate: what a restarted process
needs to finish the documents). Written in one database transaction per save, so a
crash leaves either the old or the new state. The table has its own metadata and is
created on first use (as the CSC service's tables are), on SQLite and PostgreSQL.

:func:`pending_store_for` picks the store: the database on PostgreSQL (several API
processes and workers share it), the :class:`~hsm.remote.pending.FilePendingStore`
under ``{data_dir}/remote-pending`` for the embedded default.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    Text,
    select,
    update,
)

from hsm.remote.pending import (
    FilePendingStore,
    PendingStore,
    PendingTransaction,
    transaction_from_dict,
)

__all__ = ["DbPendingStore", "SubscriberBindings", "pending_store_for",
           "remote_pending_transactions", "remote_subscribers"]

metadata = MetaData()

remote_pending_transactions = Table(
    "remote_pending_transactions", metadata,
    Column("transaction_id", String(64), primary_key=True),
    Column("tran_code", String(128), nullable=False, default="", index=True),
    Column("status", String(16), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("payload", Text, nullable=False),
)

remote_subscribers = Table(
    "remote_subscribers", metadata,
    Column("account_id", String(64), primary_key=True),
    Column("tenant", String(32), nullable=False, index=True),
    Column("user_id", String(32), nullable=False),
    Column("bound_by", String(64), nullable=False),
    Column("bound_at", DateTime(timezone=True), nullable=False),
)
"""Which provider subscriber (``user_id``: CCCD, passport or tax id) is the hsba staff
account: a workflow document is sent for remote signature only under the account's
own subscriber id (:class:`SubscriberBindings`)."""


class SubscriberBindings:
    """The account ↔ provider subscriber binding (table ``remote_subscribers``, created
    on first use; migration 0008)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        metadata.create_all(engine, tables=[remote_subscribers], checkfirst=True)

    def bind(self, tenant: str, account_id: str, user_id: str, *, bound_by: str) -> None:
        t = remote_subscribers
        values = {"tenant": tenant, "user_id": user_id, "bound_by": bound_by,
                  "bound_at": datetime.now(UTC)}
        with self._engine.begin() as conn:
            done = conn.execute(update(t).where(t.c.account_id == account_id).values(**values))
            if done.rowcount == 0:
                conn.execute(t.insert().values(account_id=account_id, **values))

    def user_id(self, account_id: str) -> str | None:
        t = remote_subscribers
        with self._engine.connect() as conn:
            return conn.execute(select(t.c.user_id).where(  # type: ignore[no-any-return]
                t.c.account_id == account_id)).scalar_one_or_none()


class DbPendingStore:
    """:class:`~hsm.remote.pending.PendingStore` over SQLAlchemy (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        metadata.create_all(engine, checkfirst=True)

    def save(self, tx: PendingTransaction) -> None:
        values = {"tran_code": tx.tran_code, "status": tx.status,
                  "created_at": datetime.fromisoformat(tx.created_at),
                  "expires_at": datetime.fromisoformat(tx.expires_at),
                  "payload": json.dumps(asdict(tx))}
        t = remote_pending_transactions
        with self._engine.begin() as conn:
            done = conn.execute(update(t).where(t.c.transaction_id == tx.transaction_id)
                                .values(**values))
            if done.rowcount == 0:
                conn.execute(t.insert().values(transaction_id=tx.transaction_id, **values))

    def settle(self, tx: PendingTransaction) -> bool:
        """Compare-and-set on the status: only a still-pending row is replaced."""
        t = remote_pending_transactions
        with self._engine.begin() as conn:
            done = conn.execute(update(t).where(
                t.c.transaction_id == tx.transaction_id, t.c.status == "pending",
            ).values(tran_code=tx.tran_code, status=tx.status, payload=json.dumps(asdict(tx))))
        return done.rowcount == 1

    def record_result(self, transaction_id: str, doc_id: str, result: dict[str, Any]) -> None:
        """Lock the row, read, merge, write back: one transaction. The lock is taken by
        a no-op UPDATE first (a row lock on PostgreSQL, the write lock on SQLite, where
        ``SELECT ... FOR UPDATE`` does not exist)."""
        t = remote_pending_transactions
        with self._engine.begin() as conn:
            conn.execute(update(t).where(t.c.transaction_id == transaction_id)
                         .values(tran_code=t.c.tran_code))
            payload = conn.execute(select(t.c.payload).where(
                t.c.transaction_id == transaction_id)).scalar_one_or_none()
            if payload is None:
                raise ValueError("unknown transaction")
            raw = json.loads(payload)
            raw["results"] = {**(raw.get("results") or {}), doc_id: result}
            conn.execute(update(t).where(t.c.transaction_id == transaction_id)
                         .values(payload=json.dumps(raw)))

    def completed_since(self, since: datetime) -> list[PendingTransaction]:
        t = remote_pending_transactions
        with self._engine.connect() as conn:
            rows = conn.execute(select(t.c.payload).where(
                t.c.status == "completed", t.c.created_at >= since)
                .order_by(t.c.created_at, t.c.transaction_id)).scalars()
            return [transaction_from_dict(json.loads(p)) for p in rows]

    def load(self, transaction_id: str) -> PendingTransaction | None:
        t = remote_pending_transactions
        with self._engine.connect() as conn:
            payload = conn.execute(select(t.c.payload).where(
                t.c.transaction_id == transaction_id)).scalar_one_or_none()
        return None if payload is None else transaction_from_dict(json.loads(payload))

    def pending(self) -> list[PendingTransaction]:
        t = remote_pending_transactions
        with self._engine.connect() as conn:
            rows = conn.execute(select(t.c.payload).where(t.c.status == "pending")
                                .order_by(t.c.created_at, t.c.transaction_id)).scalars()
            return [transaction_from_dict(json.loads(p)) for p in rows]


def pending_store_for(engine: Engine, data_dir: Path) -> PendingStore:
    """The database store on PostgreSQL, the file store for the embedded default."""
    if engine.dialect.name == "postgresql":
        return DbPendingStore(engine)
    return FilePendingStore(data_dir / "remote-pending")
