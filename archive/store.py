"""The object-store interface every archive backend implements.

An object is written once under a key that embeds its sha256
(``archive.keys``), may carry a retention date (WORM lock until then) and a
legal hold, and is read back with its sha256 checked.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Protocol, runtime_checkable

from core.errors import ArchiveError

_SHA_IN_KEY = re.compile(r"-([0-9a-f]{64})\.[a-z]+$")


@dataclass(frozen=True)
class StoredObject:
    """What the store acknowledges after a durable write."""

    key: str
    """Object key, ``{hospital}/{yyyy}/{mm}/{document_id}/v{n}-{sha256}.pdf``."""
    sha256: str
    """Hex sha256 of the content, checked on write and on every read."""
    size: int
    """Content length in bytes."""
    retain_until: date | None
    """WORM lock date (None: no per-object date; a bucket default may apply)."""
    legal_hold: bool = False
    """Legal hold in force: delete refused whatever the date."""
    version_id: str | None = None
    """Backend version id (S3 versioned buckets): the index records it, reads ask for it."""


@dataclass(frozen=True)
class ObjectVersion:
    """One version of a key in a versioned store (S3)."""

    version_id: str
    delete_marker: bool = False
    latest: bool = False


@runtime_checkable
class ObjectStore(Protocol):
    """Write-once object storage (filesystem WORM, S3 Object Lock, replicas)."""

    name: str

    def put(
        self, key: str, data: bytes, *, retain_until: date | None = None,
        legal_hold: bool = False, check_exists: bool = True,
    ) -> StoredObject:
        """``check_exists=False``: the caller knows the key is new (a fresh ingest intent);
        a store whose write-once check costs a round trip (S3) may skip it."""
        ...

    def get(self, key: str, version_id: str | None = None) -> bytes:
        """``version_id`` (recorded at ingest) pins the version read; without it a
        versioned store reads the key's original (first, locked) version, never a
        newer one somebody put at the same key."""
        ...

    def exists(self, key: str) -> bool: ...

    def stat(self, key: str, version_id: str | None = None) -> StoredObject: ...

    def versions(self, key: str) -> list[ObjectVersion]:
        """Every version of the key, oldest first (empty for an unversioned store)."""
        ...

    def delete(self, key: str, version_id: str | None = None) -> None: ...

    def list(self, prefix: str = "") -> Iterator[str]: ...

    def set_legal_hold(self, key: str, on: bool, version_id: str | None = None) -> None: ...

    def extend_retention(self, key: str, retain_until: date,
                         version_id: str | None = None) -> None: ...


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha_from_key(key: str) -> str | None:
    """The sha256 a key promises (``...-{sha256}.ext``), or None."""
    m = _SHA_IN_KEY.search(key)
    return m.group(1) if m else None


def check_content(key: str, data: bytes, expected: str | None = None) -> str:
    """Check ``data`` against the sha256 in its key (and ``expected``); return it."""
    digest = sha256_hex(data)
    for want in (sha_from_key(key), expected):
        if want is not None and want != digest:
            raise ArchiveError(
                "archive.checksum_mismatch",
                f"Nội dung đối tượng {key} không khớp mã băm sha256 (mong đợi {want}, "
                f"thực tế {digest}).",
                f"Object {key} content does not match its sha256 (expected {want}, got {digest}).",
                details={"key": key, "expected": want, "actual": digest},
            )
    return digest


def validate_key(key: str) -> None:
    if not key or key.startswith("/") or ".." in key.split("/") or "\\" in key or "\x00" in key:
        raise ArchiveError(
            "archive.bad_key",
            f"Khóa đối tượng không hợp lệ: {key!r}",
            f"Invalid object key: {key!r}",
        )


def not_found(key: str) -> ArchiveError:
    return ArchiveError(
        "archive.not_found",
        f"Không tìm thấy đối tượng {key} trong kho lưu trữ.",
        f"Object {key} not found in the archive store.",
        details={"key": key},
    )


def locked(key: str, why: str) -> ArchiveError:
    return ArchiveError(
        "archive.locked",
        f"Không được xóa/ghi đè đối tượng {key}: {why}.",
        f"Object {key} cannot be deleted or overwritten: {why}.",
        details={"key": key, "reason": why},
    )
