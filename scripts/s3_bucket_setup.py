"""Prepare the hsba TEST S3 store: wait for SeaweedFS, create the Object Lock bucket.

TEST ONLY. Run by ``scripts/test-services.sh start`` after ``weed mini``.

Waits until the S3 endpoint answers an authenticated call with the admin
identity, then (idempotently) creates the bucket with Object Lock (which turns
versioning on) and a default COMPLIANCE retention of ``--retention-days`` days.
The service's writer identity has no Admin right and cannot put retention
headers itself, so the bucket default is what locks its objects.
"""

from __future__ import annotations

import argparse
import sys
import time


def wait_ready(client: object, timeout_s: float) -> float:
    from minio import Minio

    assert isinstance(client, Minio)
    start = time.monotonic()
    last: Exception | None = None
    while time.monotonic() - start < timeout_s:
        try:
            client.list_buckets()
            return time.monotonic() - start
        except Exception as e:  # noqa: BLE001 - any failure means "not yet"
            last = e
            time.sleep(0.2)
    raise SystemExit(f"s3: no authenticated answer after {timeout_s:.0f}s: {last!r}")


def ensure_bucket(client: object, bucket: str, retention_days: int) -> None:
    from minio import Minio
    from minio.commonconfig import COMPLIANCE
    from minio.objectlockconfig import DAYS, ObjectLockConfig

    assert isinstance(client, Minio)
    if not client.bucket_exists(bucket):
        client.make_bucket(bucket, object_lock=True)
    client.set_object_lock_config(bucket, ObjectLockConfig(COMPLIANCE, retention_days, DAYS))
    lock = client.get_object_lock_config(bucket)
    versioning = client.get_bucket_versioning(bucket)
    if lock.mode != COMPLIANCE or versioning.status != "Enabled":
        raise SystemExit(
            f"s3: bucket {bucket} is not locked as asked "
            f"(mode={lock.mode}, versioning={versioning.status})"
        )


def main(argv: list[str] | None = None) -> int:
    from minio import Minio

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--endpoint", required=True, help="host:port")
    p.add_argument("--access-key", required=True, help="an Admin identity")
    p.add_argument("--secret-key", required=True)
    p.add_argument("--bucket", required=True)
    p.add_argument("--retention-days", type=int, default=1)
    p.add_argument("--timeout", type=float, default=60.0)
    args = p.parse_args(argv)

    client = Minio(args.endpoint, access_key=args.access_key, secret_key=args.secret_key,
                   secure=False)
    waited = wait_ready(client, args.timeout)
    ensure_bucket(client, args.bucket, args.retention_days)
    print(f"s3: ready after {waited:.1f}s; bucket {args.bucket} COMPLIANCE "
          f"{args.retention_days}d, versioned")
    return 0


if __name__ == "__main__":
    sys.exit(main())
