"""Engines, sessions and schema migrations for the records index.

``upgrade(url)`` runs the Alembic migrations in ``archive/migrations``
programmatically (no ``alembic.ini``), on SQLite or PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the project's conventions (SQLite: WAL, foreign keys, busy wait)."""
    if url.startswith("sqlite"):
        if ":memory:" not in url and url != "sqlite://":
            path = url.split("///", 1)[-1]
            if path:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def _alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine_url: str, revision: str = "head") -> None:
    """Bring the database at ``engine_url`` to ``revision`` (idempotent)."""
    from alembic import command

    command.upgrade(_alembic_config(engine_url), revision)


def current_revision(engine_url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(engine_url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
