"""Archive test fixtures: the records index on SQLite and PostgreSQL, the
filesystem store and the real SeaweedFS Object Lock bucket (``test_services``).

Each PostgreSQL test gets its own database; each S3 test its own key prefix
in the shared Object Lock bucket (objects stay locked by the bucket default).
"""

from __future__ import annotations

import shutil
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


def new_pg_database(pg_url: str, template: str | None = None) -> tuple[str, Any]:
    """A throwaway database (copied from ``template`` when given); returns (url, drop)."""
    base = make_url(pg_url)
    name = "hsba_t_" + uuid.uuid4().hex[:12]
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"'
                                                       if template else "")))

    def drop() -> None:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(scope="session")
def pg_migrated_template(test_services: Any) -> Iterator[str]:
    """A migrated PostgreSQL database that per-test databases are copied from."""
    url, drop = new_pg_database(test_services.pg_url)
    upgrade(url)
    yield make_url(url).database or ""
    drop()


@pytest.fixture(scope="session")
def sqlite_migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("index-template") / "index.db"
    upgrade(f"sqlite:///{path}")
    return path


def migrated_url(request: pytest.FixtureRequest, kind: str, tmp_path: Path
                 ) -> tuple[str, Any]:
    """A fresh, migrated records-index database of ``kind`` (sqlite | postgresql)."""
    if kind == "sqlite":
        path = tmp_path / "index.db"
        shutil.copyfile(request.getfixturevalue("sqlite_migrated_template"), path)
        return f"sqlite:///{path}", lambda: None
    svc = request.getfixturevalue("test_services")
    return new_pg_database(svc.pg_url, request.getfixturevalue("pg_migrated_template"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    url, drop = migrated_url(request, request.param, tmp_path)
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
def sqlite_archiver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Archiver]:
    url, _ = migrated_url(request, "sqlite", tmp_path)
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

