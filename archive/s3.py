"""S3 store with Object Lock COMPLIANCE, through the ``minio`` SDK.

Each object is put once (a stat first refuses an existing key; the sha256 in
the key makes a racing duplicate write identical content, so nothing is lost)
with a per-object COMPLIANCE retention when the identity may set one. Some
servers (SeaweedFS) refuse retention headers from a non-Admin identity: then
the bucket's default COMPLIANCE retention protects the object and
``per_object_retention`` is switched off for this store (logged once).
Reads are checked against the sha256 in the key and in the object metadata.

Versioning lets anyone with put rights add a NEWER version at a locked key
(the locked original stays). So nothing here reads "the newest version":
``get``/``stat`` read the version id the caller recorded at ingest (the index
keeps it), and without one the key's ORIGINAL version (the oldest that is not
a delete marker: a write-once key's first write is the locked one).
``versions(key)`` lists every version so the integrity sweep can report a
key that was written again.
"""

from __future__ import annotations

import base64
import io
import logging
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from typing import Any

import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE
from minio.error import S3Error
from minio.retention import Retention

from archive.store import (
    ObjectVersion,
    StoredObject,
    check_content,
    locked,
    not_found,
    validate_key,
)
from core.errors import ArchiveError, ConfigurationError

log = logging.getLogger(__name__)
_DENIED = {"AccessDenied", "ObjectLocked", "InvalidRequest", "NotImplemented"}


def _vendor(e: Exception, key: str, action: str) -> ArchiveError:
    code = getattr(e, "code", type(e).__name__)
    return ArchiveError(
        "archive.s3_error",
        f"Lỗi kho S3 khi {action} {key}: {code}",
        f"S3 store error during {action} of {key}: {code}",
        details={"key": key, "s3_code": code},
    )


def _connection_pool(maxsize: int = 32) -> urllib3.PoolManager:
    """minio's own defaults, with room for the parallel puts of a batch (minio keeps 10
    connections per host; more concurrent requests would open and drop connections)."""
    import certifi
    from urllib3.util import Retry, Timeout

    return urllib3.PoolManager(
        timeout=Timeout(connect=300, read=300), maxsize=maxsize,
        cert_reqs="CERT_REQUIRED", ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
        retries=Retry(total=5, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]))


def _until(d: date) -> datetime:
    return datetime.combine(d, time(0, 0), tzinfo=UTC)


class S3ObjectLockStore:
    """Objects in an S3 bucket with Object Lock COMPLIANCE and versioning."""

    name = "s3"

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        *,
        secure: bool = False,
        region: str | None = "us-east-1",
        per_object_retention: bool | None = None,
        prefix: str = "",
    ) -> None:
        """``per_object_retention``: True always sends retention, False never
        (bucket default only), None tries and falls back once refused.
        ``prefix``: a namespace inside the bucket (e.g. one per environment)."""
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.per_object_retention = per_object_retention
        self.client = Minio(endpoint, access_key=access_key, secret_key=secret_key,
                            secure=secure, region=region, http_client=_connection_pool())

    def _k(self, key: str) -> str:
        return self.prefix + key

    # -- start-up check ---------------------------------------------------------------
    def check_bucket(self, *, production: bool = False) -> dict[str, Any]:
        """Object Lock and versioning state; refuse a bucket without them in production."""
        state: dict[str, Any] = {"bucket": self.bucket}
        try:
            if not self.client.bucket_exists(self.bucket):
                raise ConfigurationError(
                    "archive.bucket_missing", f"Không có bucket {self.bucket}.",
                    f"Bucket {self.bucket} does not exist.")
            versioning = self.client.get_bucket_versioning(self.bucket).status
            state["versioning"] = versioning
            try:
                cfg = self.client.get_object_lock_config(self.bucket)
                state["object_lock"] = True
                state["default_mode"] = cfg.mode
                state["default_duration"] = (cfg.duration, cfg.duration_unit)
            except S3Error as e:
                state["object_lock"] = False
                state["object_lock_error"] = e.code
        except S3Error as e:
            raise _vendor(e, self.bucket, "kiểm tra / check") from e
        ok = state.get("versioning") == "Enabled" and state.get("object_lock") is True
        state["ok"] = ok
        if production and not ok:
            raise ConfigurationError(
                "archive.bucket_not_worm",
                f"Bucket {self.bucket} chưa bật Object Lock và versioning: từ chối chạy production.",
                f"Bucket {self.bucket} lacks Object Lock and versioning: refusing production.",
                details=state,
            )
        return state

    # -- ObjectStore ----------------------------------------------------------------
    def put(
        self, key: str, data: bytes, *, retain_until: date | None = None,
        legal_hold: bool = False, check_exists: bool = True,
    ) -> StoredObject:
        validate_key(key)
        digest = check_content(key, data)
        if check_exists and self.exists(key):
            raise locked(key, "đối tượng đã tồn tại (ghi một lần) / object exists (write-once)")
        meta = {
            "sha256": digest,
            # verified by the server (BadDigest otherwise): no read-back GET needed
            "x-amz-checksum-sha256": base64.b64encode(bytes.fromhex(digest)).decode(),
        }
        retention = (Retention(COMPLIANCE, _until(retain_until))
                     if retain_until is not None and self.per_object_retention is not False
                     else None)
        if retention is None:
            retain_until = None  # the bucket default retention applies
        try:
            res = self._put(key, data, meta, retention, legal_hold)
        except S3Error as e:
            if e.code not in _DENIED or (retention is None and not legal_hold):
                raise _vendor(e, key, "ghi / put") from e
            if self.per_object_retention is True:
                raise _vendor(e, key, "ghi / put") from e
            log.warning("S3 identity may not set per-object retention/legal hold on %s (%s); "
                        "relying on the bucket default COMPLIANCE retention", self.bucket, e.code)
            self.per_object_retention = False
            try:
                res = self._put(key, data, meta, None, False)
            except S3Error as e2:
                raise _vendor(e2, key, "ghi / put") from e2
            retain_until, legal_hold = None, False
        return StoredObject(key, digest, len(data), retain_until, legal_hold, res.version_id)

    def _put(self, key: str, data: bytes, meta: dict[str, str],
             retention: Retention | None, legal_hold: bool) -> Any:
        return self.client.put_object(
            self.bucket, self._k(key), io.BytesIO(data), len(data),
            content_type="application/pdf" if key.endswith(".pdf") else "application/octet-stream",
            metadata=dict(meta), retention=retention, legal_hold=legal_hold,
        )

    def versions(self, key: str) -> list[ObjectVersion]:
        """Every version of ``key`` (delete markers included), oldest first."""
        validate_key(key)
        name = self._k(key)
        found: list[tuple[Any, int, ObjectVersion]] = []
        try:
            # S3 lists a key's versions newest first: keep that order as the tie-break.
            for i, o in enumerate(self.client.list_objects(self.bucket, prefix=name,
                                                           include_version=True)):
                if o.object_name != name or not o.version_id:
                    continue
                found.append((o.last_modified, -i, ObjectVersion(
                    o.version_id, bool(o.is_delete_marker), o.is_latest == "true")))
        except S3Error as e:
            raise _vendor(e, key, "liệt kê phiên bản / list versions") from e
        epoch = datetime.min.replace(tzinfo=UTC)
        found.sort(key=lambda f: (f[0] or epoch, f[1]))
        return [v for _, _, v in found]

    def _original(self, key: str) -> str:
        """Version id of the key's first (locked) write."""
        for v in self.versions(key):
            if not v.delete_marker:
                return v.version_id
        raise not_found(key)

    def get(self, key: str, version_id: str | None = None) -> bytes:
        """The content of ``version_id`` (as recorded at ingest), else of the original."""
        validate_key(key)
        vid = version_id or self._original(key)
        try:
            resp = self.client.get_object(self.bucket, self._k(key), version_id=vid)
            try:
                data = resp.read()
                meta_sha = resp.headers.get("x-amz-meta-sha256")
            finally:
                resp.close()
                resp.release_conn()
        except S3Error as e:
            if e.code in ("NoSuchKey", "NoSuchVersion"):
                raise not_found(key) from e
            raise _vendor(e, key, "đọc / get") from e
        check_content(key, data, meta_sha)
        return data

    def exists(self, key: str) -> bool:
        """True when the key has a stored version (a delete marker on top does not hide it)."""
        validate_key(key)
        try:
            self.client.stat_object(self.bucket, self._k(key))  # one HEAD in the usual case
            return True
        except S3Error as e:
            if e.code not in ("NoSuchKey", "NoSuchVersion", "ResourceNotFound"):
                raise _vendor(e, key, "kiểm tra / stat") from e
        return any(not v.delete_marker for v in self.versions(key))

    def stat(self, key: str, version_id: str | None = None) -> StoredObject:
        validate_key(key)
        vid = version_id or self._original(key)
        try:
            st = self.client.stat_object(self.bucket, self._k(key), version_id=vid)
        except S3Error as e:
            if e.code in ("NoSuchKey", "NoSuchVersion", "ResourceNotFound"):
                raise not_found(key) from e
            raise _vendor(e, key, "kiểm tra / stat") from e
        meta = st.metadata or {}
        until = meta.get("x-amz-object-lock-retain-until-date")
        hold = meta.get("x-amz-object-lock-legal-hold") == "ON"
        sha = meta.get("x-amz-meta-sha256") or ""
        ru = datetime.fromisoformat(until).date() if until else None
        return StoredObject(key, sha, st.size or 0, ru, hold, st.version_id or vid)

    def delete(self, key: str, version_id: str | None = None) -> None:
        """Delete the object's version itself (not a delete marker): refused while locked."""
        st = self.stat(key, version_id)
        try:
            self.client.remove_object(self.bucket, self._k(key), version_id=st.version_id)
        except S3Error as e:
            if e.code in _DENIED:
                raise locked(key, f"S3 {e.code}") from e
            raise _vendor(e, key, "xóa / delete") from e

    def list(self, prefix: str = "") -> Iterator[str]:
        try:
            for obj in self.client.list_objects(self.bucket, prefix=self.prefix + prefix,
                                                recursive=True):
                if obj.object_name and not obj.is_dir:
                    yield obj.object_name[len(self.prefix):]
        except S3Error as e:
            raise _vendor(e, prefix, "liệt kê / list") from e

    def set_legal_hold(self, key: str, on: bool, version_id: str | None = None) -> None:
        st = self.stat(key, version_id)
        try:
            if on:
                self.client.enable_object_legal_hold(self.bucket, self._k(key), st.version_id)
            else:
                self.client.disable_object_legal_hold(self.bucket, self._k(key), st.version_id)
        except S3Error as e:
            raise _vendor(e, key, "phong tỏa pháp lý / legal hold") from e

    def extend_retention(self, key: str, retain_until: date,
                         version_id: str | None = None) -> None:
        st = self.stat(key, version_id)
        try:
            self.client.set_object_retention(
                self.bucket, self._k(key), Retention(COMPLIANCE, _until(retain_until)),
                st.version_id)
        except S3Error as e:
            if e.code in _DENIED:
                raise locked(key, f"S3 {e.code}") from e
            raise _vendor(e, key, "gia hạn / retention") from e
