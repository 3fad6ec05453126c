"""Alembic migrations give exactly the schema the models declare.

``alembic upgrade head`` on a fresh database, then Alembic's own
``compare_metadata`` against the archive, EMR, workflow and remote-signing
(CSC state, pending provider transactions) metadata: no
difference (tables, columns, types, nullability, indexes, unique constraints,
foreign keys). Run on PostgreSQL (production) and SQLite (embedded default).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, inspect

from api.csc.state import metadata as csc_metadata
from api.remote.pending_db import metadata as remote_metadata
from archive.db import make_engine, upgrade
from archive.models import Base
from emr.models import EmrBase
from tests.archive.conftest import new_pg_database
from workflow.db import metadata as workflow_metadata

METADATA: list[MetaData] = [Base.metadata, EmrBase.metadata, workflow_metadata, csc_metadata,
                            remote_metadata]


def _differences(url: str) -> list[Any]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(ctx, METADATA))
    finally:
        engine.dispose()


def _assert_same_schema(url: str) -> None:
    upgrade(url)
    diff = _differences(url)
    assert diff == [], diff
    engine = make_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    declared = {t for md in METADATA for t in md.tables}
    assert declared <= tables
    assert {t for t in tables if t.startswith("wf_")} == set(workflow_metadata.tables)


@pytest.mark.services
def test_upgrade_head_on_fresh_postgresql_matches_the_models(test_services: Any) -> None:
    url, drop = new_pg_database(test_services.pg_url)
    try:
        _assert_same_schema(url)
    finally:
        drop()


def test_upgrade_head_on_fresh_sqlite_matches_the_models(tmp_path: Path) -> None:
    _assert_same_schema(f"sqlite:///{tmp_path / 'index.db'}")


def test_compare_sees_a_drift(tmp_path: Path) -> None:
    """The comparison is not blind: a column the migrations lack is reported."""
    url = f"sqlite:///{tmp_path / 'index.db'}"
    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE wf_documents DROP COLUMN patient_bhyt")
    engine.dispose()
    diff = _differences(url)
    assert [(d[0], d[2], d[3].name) for d in diff] == [("add_column", "wf_documents",
                                                        "patient_bhyt")]


def test_tables_made_by_create_all_before_0005_are_kept(tmp_path: Path) -> None:
    """A database whose ``wf_*`` tables ``create_all`` made (before 0005) upgrades cleanly."""
    url = f"sqlite:///{tmp_path / 'index.db'}"
    upgrade(url, "0004_object_version_ids")
    engine = make_engine(url)
    workflow_metadata.create_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO wf_tenants (id, name, seal_key_id) "
                             "VALUES ('70001', 'BV', 'seal')")
    engine.dispose()
    upgrade(url)
    assert _differences(url) == []
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM wf_tenants").scalar() == 1
    engine.dispose()
