"""hsba archive: WORM object stores, records index, audit chain, retention.

Entry points (nothing is built at import time):
``open_store(settings)``, ``open_archive(settings)``, ``archive.db.upgrade(url)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from archive.ingest import Archiver
    from archive.store import ObjectStore
    from core.settings import Settings


def _primary(settings: Settings) -> ObjectStore:
    if settings.store == "s3":
        from archive.s3 import S3ObjectLockStore

        store = S3ObjectLockStore(
            settings.s3_endpoint, settings.s3_access_key,
            settings.s3_secret_key.get_secret_value(), settings.s3_bucket,
            secure=settings.s3_secure, region=settings.s3_region)
        store.check_bucket(production=settings.env == "production")
        return store
    if settings.env == "production":
        from core.errors import ConfigurationError

        raise ConfigurationError(
            "archive.fs_store_in_production",
            "Kho tệp FilesystemWormStore chỉ dành cho phát triển: dùng S3 Object Lock "
            "(HSBA_STORE=s3) trong production.",
            "FilesystemWormStore is for development: use S3 Object Lock (HSBA_STORE=s3) "
            "in production.")
    from archive.fs_store import FilesystemWormStore

    return FilesystemWormStore(settings.data_dir / "archive")


def open_replica(settings: Settings) -> ObjectStore | None:
    if settings.replica_store == "fs":
        from archive.fs_store import FilesystemWormStore

        return FilesystemWormStore(settings.replica_fs_path or settings.data_dir / "replica")
    if settings.replica_store == "s3":
        from archive.s3 import S3ObjectLockStore

        return S3ObjectLockStore(
            settings.s3_endpoint, settings.s3_access_key,
            settings.s3_secret_key.get_secret_value(),
            settings.replica_s3_bucket or settings.s3_bucket + "-replica",
            secure=settings.s3_secure, region=settings.s3_region)
    return None


def open_store(settings: Settings, *, with_replica: bool = True) -> ObjectStore:
    """The configured object store (wrapped with its replica when one is configured)."""
    primary = _primary(settings)
    replica = open_replica(settings) if with_replica else None
    if replica is None:
        return primary
    from archive.replica import ReplicatedStore

    return ReplicatedStore(primary, replica)


def open_archive(settings: Settings, *, migrate: bool = True) -> Archiver:
    """Store + records index + audit chain from settings (runs migrations by default)."""
    from archive.db import make_engine, upgrade
    from archive.index import RecordsIndex
    from archive.ingest import Archiver

    url = settings.effective_database_url
    if migrate:
        upgrade(url)
    return Archiver(RecordsIndex(make_engine(url)), open_store(settings))
