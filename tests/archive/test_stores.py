"""Object stores: write-once, locks, legal hold, checksums, replica and restore.

Run on the filesystem WORM store and on the real SeaweedFS Object Lock bucket.
"""

from __future__ import annotations

import os
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from archive.fs_store import FilesystemWormStore
from archive.keys import object_key, parse_key
from archive.replica import ReplicatedStore, restore
from archive.store import ObjectStore, sha256_hex
from core.errors import ArchiveError, ConfigurationError, InvalidInput
from tests.archive.conftest import s3_store


def _key(data: bytes, n: int = 1, doc: str = "doc-1") -> str:
    return object_key("70001", (2026, 11), doc, n, sha256_hex(data))


def test_key_layout_and_parse() -> None:
    data = b"%PDF-1.7 demo"
    key = _key(data, 3)
    assert key == f"70001/2026/11/doc-1/v3-{sha256_hex(data)}.pdf"
    parsed = parse_key(key)
    assert parsed is not None and parsed.version == 3 and parsed.document_id == "doc-1"
    assert parse_key("audit/checkpoints/x.json") is None
    with pytest.raises(InvalidInput):
        object_key("../etc", (2026, 1), "d", 1, sha256_hex(data))
    with pytest.raises(InvalidInput):
        object_key("70001", (2026, 13), "d", 1, sha256_hex(data))


def test_write_once_read_back_and_refusals(store: ObjectStore) -> None:
    data = os.urandom(2048)
    key = _key(data)
    stored = store.put(key, data, retain_until=date.today() + timedelta(days=1))
    assert stored.sha256 == sha256_hex(data) and stored.size == len(data)
    assert store.exists(key) and store.get(key) == data
    assert key in list(store.list("70001/"))
    with pytest.raises(ArchiveError) as e:
        store.put(key, data)
    assert e.value.code == "archive.locked"
    with pytest.raises(ArchiveError) as e:
        store.delete(key)
    assert e.value.code == "archive.locked"
    assert store.get(key) == data
    # content that does not match the sha256 in its key is refused before writing
    other = _key(b"other content", 2)
    with pytest.raises(ArchiveError) as e:
        store.put(other, data)
    assert e.value.code == "archive.checksum_mismatch"
    assert not store.exists(other)


def test_missing_object(store: ObjectStore) -> None:
    key = _key(b"never written")
    assert not store.exists(key)
    with pytest.raises(ArchiveError) as e:
        store.get(key)
    assert e.value.code == "archive.not_found"


def test_fs_delete_after_expiry_and_legal_hold(tmp_path: Path) -> None:
    st = FilesystemWormStore(tmp_path, warn=False)
    data = b"expired record"
    key = _key(data)
    st.put(key, data, retain_until=date.today() - timedelta(days=1))
    st.set_legal_hold(key, True)
    with pytest.raises(ArchiveError, match="legal hold"):
        st.delete(key)
    st.set_legal_hold(key, False)
    st.delete(key)
    assert not st.exists(key)


def test_fs_retention_extends_never_shortens(tmp_path: Path) -> None:
    st = FilesystemWormStore(tmp_path, warn=False)
    data = b"retained"
    key = _key(data)
    st.put(key, data, retain_until=date(2036, 12, 31))
    st.extend_retention(key, date(2046, 12, 31))
    assert st.stat(key).retain_until == date(2046, 12, 31)
    with pytest.raises(ArchiveError):
        st.extend_retention(key, date(2030, 1, 1))
    assert st.stat(key).retain_until == date(2046, 12, 31)


def test_fs_files_are_read_only_and_tampering_is_detected(tmp_path: Path) -> None:
    st = FilesystemWormStore(tmp_path, warn=False)
    data = b"%PDF signed bytes"
    key = _key(data)
    st.put(key, data)
    path = tmp_path / key
    assert path.stat().st_mode & 0o222 == 0
    os.chmod(path, 0o644)
    path.write_bytes(b"%PDF forged bytes")
    with pytest.raises(ArchiveError) as e:
        st.get(key)
    assert e.value.code == "archive.checksum_mismatch"


@pytest.mark.services
def test_s3_compliance_lock_per_object_and_bucket_default(test_services: Any) -> None:
    admin = s3_store(test_services, admin=True, per_object_retention=True)
    data = os.urandom(1000)
    key = _key(data)
    until = date.today() + timedelta(days=2)
    stored = admin.put(key, data, retain_until=until)
    assert stored.retain_until == until
    assert admin.stat(key).retain_until == until
    # COMPLIANCE: even the Admin identity cannot delete the version or shorten the lock
    with pytest.raises(ArchiveError) as e:
        admin.delete(key)
    assert e.value.code == "archive.locked"
    with pytest.raises(ArchiveError):
        admin.extend_retention(key, date.today() + timedelta(days=1))
    admin.extend_retention(key, until + timedelta(days=1))
    assert admin.stat(key).retain_until == until + timedelta(days=1)
    # legal hold on and off
    admin.set_legal_hold(key, True)
    assert admin.stat(key).legal_hold
    admin.set_legal_hold(key, False)
    assert not admin.stat(key).legal_hold

    # the service's writer identity (retention rights granted here) locks per object
    writer = s3_store(test_services)
    data2 = os.urandom(1000)
    key2 = _key(data2)
    writer.put(key2, data2, retain_until=until)
    assert writer.stat(key2).retain_until == until
    # an identity that may not set retention (SeaweedFS without the right): bucket default
    default_only = s3_store(test_services, per_object_retention=False)
    data3 = os.urandom(1000)
    key3 = _key(data3)
    stored3 = default_only.put(key3, data3, retain_until=until)
    assert stored3.retain_until is None
    locked_until = default_only.stat(key3).retain_until
    assert locked_until is not None and locked_until >= date.today()  # COMPLIANCE default
    with pytest.raises(ArchiveError) as e:
        default_only.delete(key3)
    assert e.value.code == "archive.locked"
    assert default_only.get(key3) == data3


@pytest.mark.services
def test_s3_check_bucket_refuses_unlocked_bucket_in_production(test_services: Any) -> None:
    from minio import Minio

    locked = s3_store(test_services, admin=True)
    state = locked.check_bucket(production=True)
    assert state["ok"] and state["versioning"] == "Enabled"
    plain_name = "hsba-plain-" + uuid.uuid4().hex[:8]
    Minio(test_services.s3_endpoint, test_services.s3_admin_access_key,
          str(test_services.s3_admin_secret_key), secure=False).make_bucket(plain_name)
    plain = s3_store(test_services, admin=True)
    plain.bucket = plain_name
    assert plain.check_bucket(production=False)["ok"] is False
    with pytest.raises(ConfigurationError):
        plain.check_bucket(production=True)


def _replica_pair(kind: str, tmp_path: Path, request: pytest.FixtureRequest
                  ) -> tuple[ObjectStore, ObjectStore]:
    if kind == "fs":
        return (FilesystemWormStore(tmp_path / "primary", warn=False),
                FilesystemWormStore(tmp_path / "replica", warn=False))
    return (FilesystemWormStore(tmp_path / "primary", warn=False),
            s3_store(request.getfixturevalue("test_services")))


@pytest.mark.parametrize("kind", ["fs", pytest.param("s3", marks=pytest.mark.services)])
def test_replica_and_restore(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    primary, replica = _replica_pair(kind, tmp_path, request)
    both = ReplicatedStore(primary, replica)
    keys = []
    for i in range(3):
        data = f"document {i}".encode() * 100
        key = _key(data, 1, f"doc-{i}")
        both.put(key, data, retain_until=date.today() + timedelta(days=1))
        keys.append(key)
        assert replica.get(key) == data
    # the primary is lost: a new empty primary is rebuilt from the replica
    fresh = FilesystemWormStore(tmp_path / "rebuilt", warn=False)
    report = restore(fresh, replica)
    assert sorted(report.copied) == sorted(keys) and not report.failed
    for key in keys:
        assert fresh.get(key) == replica.get(key)
    again = restore(fresh, replica)
    assert again.copied == [] and again.already_present == 3
