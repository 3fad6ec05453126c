"""EMR fixtures: a migrated database (SQLite, and PostgreSQL with ``test_services``) seeded
with the demo hospital."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from archive.db import make_engine, upgrade
from emr.seed import DemoIds, seed_demo
from tests.archive.conftest import new_pg_database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def emr_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'emr.db'}"
        upgrade(url)
        yield url
        return
    url, drop = new_pg_database(request.getfixturevalue("test_services").pg_url)
    upgrade(url)
    try:
        yield url
    finally:
        drop()


@pytest.fixture
def seeded(emr_url: str) -> Iterator[tuple[Session, DemoIds]]:
    engine = make_engine(emr_url)
    with Session(engine) as s:
        ids = seed_demo(s)
        s.commit()
        yield s, ids
    engine.dispose()


@pytest.fixture
def seeded_sqlite(tmp_path: Path) -> Iterator[tuple[Session, DemoIds]]:
    url = f"sqlite:///{tmp_path / 'emr.db'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as s:
        ids = seed_demo(s)
        s.commit()
        yield s, ids
    engine.dispose()
