"""Filesystem write-once store: the embedded default, for development.

Each object is written once: created exclusively under a temporary name,
fsync'd, made read-only, then hard-linked to its final name (the link fails if
the name exists, so a second write never replaces the first) and the directory
fsync'd. Retention date and legal hold live in a sidecar under ``.meta/`` and
are enforced by :meth:`delete`. Anyone with root on the machine can still
remove the files: production uses S3 Object Lock (``archive.s3``).
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from archive.store import (
    ObjectVersion,
    StoredObject,
    check_content,
    locked,
    not_found,
    sha256_hex,
    validate_key,
)
from core.errors import ArchiveError

log = logging.getLogger(__name__)
_META = ".meta"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FilesystemWormStore:
    """Write-once files under ``root`` (development / single machine)."""

    name = "fs"

    def __init__(self, root: Path | str, *, warn: bool = True) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        if warn:
            log.warning("FilesystemWormStore at %s is for development; production uses "
                        "S3 Object Lock (HSBA_STORE=s3)", self.root)

    # -- paths -----------------------------------------------------------------
    def _path(self, key: str) -> Path:
        validate_key(key)
        if key.split("/", 1)[0] == _META:
            raise ArchiveError("archive.bad_key", "Khóa dành riêng.", "Reserved key.")
        return self.root / key

    def _meta_path(self, key: str) -> Path:
        return self.root / _META / (key + ".json")

    def _read_meta(self, key: str) -> dict[str, object]:
        p = self._meta_path(key)
        if not p.exists():
            return {}
        data: dict[str, object] = json.loads(p.read_text())
        return data

    def _write_meta(self, key: str, meta: dict[str, object]) -> None:
        p = self._meta_path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.{uuid.uuid4().hex}.tmp")
        with open(tmp, "x") as fh:
            json.dump(meta, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
        _fsync_dir(p.parent)

    # -- ObjectStore -------------------------------------------------------------
    def put(
        self, key: str, data: bytes, *, retain_until: date | None = None,
        legal_hold: bool = False, check_exists: bool = True,
    ) -> StoredObject:
        path = self._path(key)
        digest = check_content(key, data)
        if path.exists():
            raise locked(key, "đối tượng đã tồn tại (ghi một lần) / object exists (write-once)")
        path.parent.mkdir(parents=True, exist_ok=True)
        # The lock is recorded before the object appears, so it is never unlocked.
        self._write_meta(key, {
            "sha256": digest, "size": len(data),
            "retain_until": retain_until.isoformat() if retain_until else None,
            "legal_hold": legal_hold,
        })
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
            os.fchmod(fd, 0o444)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError as e:
            raise locked(key, "đối tượng đã tồn tại / object exists") from e
        finally:
            os.unlink(tmp)
        _fsync_dir(path.parent)
        return StoredObject(key, digest, len(data), retain_until, legal_hold)

    def get(self, key: str, version_id: str | None = None) -> bytes:
        """``version_id`` is ignored: files are write-once, there is one version."""
        path = self._path(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError as e:
            raise not_found(key) from e
        expected = self._read_meta(key).get("sha256")
        check_content(key, data, expected if isinstance(expected, str) else None)
        return data

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def versions(self, key: str) -> list[ObjectVersion]:
        """Unversioned: write-once files have no version history."""
        return []

    def stat(self, key: str, version_id: str | None = None) -> StoredObject:
        path = self._path(key)
        if not path.is_file():
            raise not_found(key)
        meta = self._read_meta(key)
        ru = meta.get("retain_until")
        sha = meta.get("sha256")
        return StoredObject(
            key, sha if isinstance(sha, str) else sha256_hex(path.read_bytes()),
            path.stat().st_size,
            date.fromisoformat(ru) if isinstance(ru, str) else None,
            bool(meta.get("legal_hold", False)),
        )

    def delete(self, key: str, version_id: str | None = None) -> None:
        obj = self.stat(key)
        if obj.legal_hold:
            raise locked(key, "đang bị phong tỏa pháp lý / under legal hold")
        if obj.retain_until is not None and obj.retain_until >= date.today():
            raise locked(key, f"còn thời hạn lưu trữ đến {obj.retain_until} / "
                              f"retained until {obj.retain_until}")
        path = self._path(key)
        path.unlink()
        self._meta_path(key).unlink(missing_ok=True)
        _fsync_dir(path.parent)

    def list(self, prefix: str = "") -> Iterator[str]:
        for dirpath, dirnames, filenames in os.walk(self.root):
            rel = os.path.relpath(dirpath, self.root)
            if rel == _META or rel.startswith(_META + os.sep):
                dirnames.clear()
                continue
            dirnames.sort()
            for fn in sorted(filenames):
                if fn.startswith("."):
                    continue
                key = fn if rel == "." else f"{rel.replace(os.sep, '/')}/{fn}"
                if key.startswith(prefix):
                    yield key

    def set_legal_hold(self, key: str, on: bool, version_id: str | None = None) -> None:
        self.stat(key)
        meta = self._read_meta(key)
        meta["legal_hold"] = on
        self._write_meta(key, meta)

    def extend_retention(self, key: str, retain_until: date,
                         version_id: str | None = None) -> None:
        obj = self.stat(key)
        if obj.retain_until is not None and retain_until < obj.retain_until:
            raise locked(key, "không được rút ngắn thời hạn lưu trữ / retention cannot be shortened")
        meta = self._read_meta(key)
        meta["retain_until"] = retain_until.isoformat()
        self._write_meta(key, meta)
