"""Archive test fixtures: the records index on SQLite and PostgreSQL, the
filesystem store and the real SeaweedFS Object Lock bucket (``test_services``).

Each PostgreSQL test gets its own database; each S3 test its own key prefix
in the shared Object Lock bucket (objects stay locked by the bucket default).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from archive.db import make_engine, upgrade
from archive.fs_store import FilesystemWormStore
from archive.index import RecordsIndex
from archive.ingest import Archiver
from archive.s3 import S3ObjectLockStore
from archive.store import ObjectStore


def new_pg_database(pg_url: str) -> tuple[str, Any]:
    base = make_url(pg_url)
    name = "hsba_t_" + uuid.uuid4().hex[:12]
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'index.db'}"
        upgrade(url)
        yield url
        return
    svc = request.getfixturevalue("test_services")
    url, drop = new_pg_database(svc.pg_url)
    upgrade(url)
    try:
        yield url
    finally:
        drop()


def s3_store(svc: Any, *, admin: bool = False, **kw: Any) -> S3ObjectLockStore:
    if admin:
        ak, sk = svc.s3_admin_access_key, svc.s3_admin_secret_key
    else:
        ak, sk = svc.s3_access_key, svc.s3_secret_key
    return S3ObjectLockStore(svc.s3_endpoint, ak, str(sk), svc.s3_bucket,
                             prefix=f"tests/archive/{uuid.uuid4().hex}", **kw)


@pytest.fixture(params=["fs", pytest.param("s3", marks=pytest.mark.services)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "fs":
        return FilesystemWormStore(tmp_path / "worm", warn=False)
    return s3_store(request.getfixturevalue("test_services"))


@pytest.fixture
def sqlite_archiver(tmp_path: Path) -> Iterator[Archiver]:
    url = f"sqlite:///{tmp_path / 'index.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield Archiver(RecordsIndex(engine), FilesystemWormStore(tmp_path / "worm", warn=False))
    engine.dispose()


@pytest.fixture
def archiver(db_url: str, store: ObjectStore) -> Iterator[Archiver]:
    engine = make_engine(db_url)
    yield Archiver(RecordsIndex(engine), store)
    engine.dispose()


def store_spec(store: ObjectStore) -> dict[str, Any]:
    """A JSON description of a store, to rebuild it in a child process."""
    if isinstance(store, FilesystemWormStore):
        return {"kind": "fs", "root": str(store.root)}
    assert isinstance(store, S3ObjectLockStore)
    return {"kind": "s3", "endpoint": store.client._base_url.host,
            "access_key": store.client._provider.retrieve().access_key,
            "secret_key": store.client._provider.retrieve().secret_key,
            "bucket": store.bucket, "prefix": store.prefix}

