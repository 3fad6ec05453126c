"""EMR fixtures: a migrated database (SQLite, and PostgreSQL with ``test_services``) seeded
with the demo hospital."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from archive.db import make_engine
from emr.seed import DemoIds, seed_demo
from tests.archive.conftest import (  # noqa: F401 - session fixtures used by migrated_url
    migrated_url,
    pg_migrated_template,
    sqlite_migrated_template,
)
from tests.xml.conftest import xml_pki  # noqa: F401 - the XML seal test CA (session fixture)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def emr_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    url, drop = migrated_url(request, request.param, tmp_path)
    try:
        yield url
    finally:
        drop()


def _seeded(url: str) -> Iterator[tuple[Session, DemoIds]]:
    engine = make_engine(url)
    with Session(engine) as s:
        ids = seed_demo(s)
        s.commit()
        yield s, ids
    engine.dispose()


@pytest.fixture
def seeded(emr_url: str) -> Iterator[tuple[Session, DemoIds]]:
    yield from _seeded(emr_url)


@pytest.fixture
def seeded_sqlite(request: pytest.FixtureRequest, tmp_path: Path
                  ) -> Iterator[tuple[Session, DemoIds]]:
    url, _ = migrated_url(request, "sqlite", tmp_path)
    yield from _seeded(url)
