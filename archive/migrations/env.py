"""Alembic environment for the records index and the EMR model (run via archive.db)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import MetaData

from archive.db import make_engine


def _metadata() -> list[MetaData]:
    from archive.models import Base

    found: list[MetaData] = [Base.metadata]
    try:
        from emr.models import EmrBase
    except ImportError:  # emr not present: the archive alone
        return found
    found.append(EmrBase.metadata)
    return found


def run() -> None:
    config = context.config
    url = config.get_main_option("sqlalchemy.url")
    assert url
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=_metadata(),
                              render_as_batch=url.startswith("sqlite"))
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


run()
