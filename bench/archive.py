"""Archive ingest throughput: store + index + audit on PostgreSQL + S3 (SeaweedFS Object Lock).

Beside it, in the same run, a bare S3 put of the same 100 KB objects with the
same concurrency (the baseline). Target (issue 7): ingest >= 0.5x the bare put
and >= 100 documents/s. Uses the test PostgreSQL (``scripts/test-services.sh
start`` if it is not up) with a fresh database, and its OWN throwaway SeaweedFS
(``weed mini`` in a temporary directory, an Object Lock bucket, removed at the
end): the objects it writes are locked, so it must not fill the shared test
bucket.

    .venv/bin/python bench/archive.py [--n 300] [--batch 50] [--workers 8] [--reps 3]
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from minio import Minio
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from archive.db import make_engine, upgrade
from archive.index import RecordsIndex
from archive.ingest import Archiver, DocumentMeta, IngestItem, SignatureRecord
from archive.s3 import S3ObjectLockStore


def services() -> dict[str, str]:
    env_file = REPO / ".test-services" / "env"
    status = subprocess.run([str(REPO / "scripts" / "test-services.sh"), "status"],
                            capture_output=True, check=False)
    if status.returncode != 0 or not env_file.exists():
        subprocess.run([str(REPO / "scripts" / "test-services.sh"), "start"], check=True)
    env = {}
    for line in env_file.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            env[k] = v
    return env


def private_s3(tmp: Path) -> tuple[Any, dict[str, str]]:
    """Start a throwaway SeaweedFS with an Object Lock bucket; returns (process, env)."""
    import json
    import secrets
    import socket

    def free_port() -> int:
        with socket.socket() as so:
            so.bind(("127.0.0.1", 0))
            return int(so.getsockname()[1])

    ports = {k: free_port() for k in ("s3", "s3g", "m", "mg", "v", "vg", "f", "fg", "a", "ag")}
    admin, writer = secrets.token_hex(8), secrets.token_hex(8)
    (tmp / "s3.json").write_text(json.dumps({"identities": [
        {"name": "admin", "credentials": [{"accessKey": "bench-admin", "secretKey": admin}],
         "actions": ["Admin", "Read", "Write", "List", "Tagging"]},
        {"name": "writer", "credentials": [{"accessKey": "bench-writer", "secretKey": writer}],
         "actions": ["Read", "Write", "List", "Tagging", "GetObjectRetention",
                     "PutObjectRetention", "GetObjectLegalHold", "PutObjectLegalHold"]}]}))
    (tmp / "data").mkdir()
    weed = Path(sys.executable).with_name("weed")
    p = ports
    proc = subprocess.Popen(
        [str(weed), f"-logdir={tmp}", "mini", f"-dir={tmp / 'data'}", "-ip=127.0.0.1",
         "-ip.bind=127.0.0.1", f"-master.port={p['m']}", f"-master.port.grpc={p['mg']}",
         f"-volume.port={p['v']}", f"-volume.port.grpc={p['vg']}", f"-filer.port={p['f']}",
         f"-filer.port.grpc={p['fg']}", f"-s3.port={p['s3']}", f"-s3.port.grpc={p['s3g']}",
         f"-admin.port={p['a']}", f"-admin.port.grpc={p['ag']}", "-admin.ui=false",
         "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false",
         f"-s3.config={tmp / 's3.json'}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"127.0.0.1:{p['s3']}"
    subprocess.run([sys.executable, str(REPO / "scripts" / "s3_bucket_setup.py"), "--endpoint",
                    endpoint, "--access-key", "bench-admin", "--secret-key", admin, "--bucket",
                    "hsba-bench", "--retention-days", "1"], check=True)
    return proc, {"HSBA_TEST_S3_ENDPOINT": endpoint, "HSBA_TEST_S3_ACCESS_KEY": "bench-writer",
                  "HSBA_TEST_S3_SECRET_KEY": writer, "HSBA_TEST_S3_BUCKET": "hsba-bench"}


def fresh_database(pg_url: str) -> tuple[str, Any]:
    base = make_url(pg_url)
    name = "hsba_bench_" + uuid.uuid4().hex[:8]
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


def items(n: int, size: int, tenant: str) -> list[IngestItem]:
    now = datetime.now(UTC)
    return [IngestItem(
        document_id=f"bench-{uuid.uuid4().hex}", data=os.urandom(size),
        meta=DocumentMeta(tenant, "lab_result", patient_cccd=f"072{i:09d}",
                          department="K03", encounter_ref=f"enc-{i}"),
        actor_id="bench", signatures=(SignatureRecord("doctor", "doctor", "CN=Bench", "pkcs11",
                                                      "B-LTA", now, "pr-bench"),))
        for i in range(n)]


def bare_put(client: Any, bucket: str, prefix: str, workers: int, *,
             locked: bool = False) -> Any:
    """The baseline: minio put_object of the same bytes, same thread count.

    ``locked``: with what hsba's put sends besides the bytes (per-object COMPLIANCE
    retention, sha256 metadata, the checksum header the server verifies)."""
    import base64
    import hashlib
    from datetime import timedelta

    from minio.commonconfig import COMPLIANCE
    from minio.retention import Retention

    def put(it: IngestItem) -> None:
        extra: dict[str, Any] = {}
        if locked:
            digest = hashlib.sha256(it.data).digest()
            extra = {"retention": Retention(COMPLIANCE, datetime.now(UTC) + timedelta(days=1)),
                     "metadata": {"sha256": digest.hex(),
                                  "x-amz-checksum-sha256": base64.b64encode(digest).decode()}}
        client.put_object(bucket, f"{prefix}/{it.document_id}.pdf", io.BytesIO(it.data),
                          len(it.data), **extra)

    def run(docs: list[IngestItem]) -> None:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(put, docs))
    return run


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300, help="documents per measurement")
    ap.add_argument("--size", type=int, default=100 * 1024)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--reps", type=int, default=3, help="interleaved repetitions (median)")
    args = ap.parse_args()
    import shutil
    import statistics
    import tempfile

    env = services()
    tmp = Path(tempfile.mkdtemp(prefix="hsba-bench-s3-"))
    weed, s3env = private_s3(tmp)
    env.update(s3env)
    url, drop = fresh_database(env["HSBA_TEST_PG_URL"])
    upgrade(url)
    engine = make_engine(url, pool_size=args.workers + 2)
    run = uuid.uuid4().hex[:8]
    store = S3ObjectLockStore(env["HSBA_TEST_S3_ENDPOINT"], env["HSBA_TEST_S3_ACCESS_KEY"],
                              env["HSBA_TEST_S3_SECRET_KEY"], env["HSBA_TEST_S3_BUCKET"],
                              prefix=f"bench/{run}/archive")
    archiver = Archiver(RecordsIndex(engine), store)
    client = Minio(env["HSBA_TEST_S3_ENDPOINT"], env["HSBA_TEST_S3_ACCESS_KEY"],
                   env["HSBA_TEST_S3_SECRET_KEY"], secure=False)
    bucket = env["HSBA_TEST_S3_BUCKET"]
    n, w, b, streams = args.n, args.workers, args.batch, 4

    def batched(docs: list[IngestItem]) -> None:
        for i in range(0, len(docs), b):
            archiver.archive_documents(docs[i:i + b], max_workers=w)

    def four_callers(docs: list[IngestItem]) -> None:
        per = max(1, b // 2)
        with ThreadPoolExecutor(streams) as pool:
            list(pool.map(lambda c: archiver.archive_documents(
                c, max_workers=max(1, w // streams)), [docs[i:i + per]
                                                        for i in range(0, len(docs), per)]))

    def one_per_call(docs: list[IngestItem]) -> None:
        with ThreadPoolExecutor(w) as pool:
            list(pool.map(archiver.archive_document, docs))

    modes: list[tuple[str, Any, int, bool]] = [
        ("bare S3 put (baseline)", bare_put(client, bucket, f"bench/{run}/bare", w), n, False),
        ("bare put + lock/checksum headers", bare_put(client, bucket, f"bench/{run}/lock", w,
                                                      locked=True), n, False),
        (f"ingest, pipelined stream ({b}/batch)", lambda d: archiver.archive_stream(
            d, batch_size=b, max_workers=w), n, True),
        (f"ingest, batches of {b}", batched, n, True),
        (f"ingest, {streams} callers x batches of {b // 2}", four_callers, n, True),
        (f"ingest, one per call, {w} threads", one_per_call, n // 2, True),
    ]
    rates: dict[str, list[float]] = {name: [] for name, *_ in modes}
    try:
        archiver.archive_documents(items(20, args.size, "bench"), max_workers=w)  # warm-up
        for _ in range(args.reps):
            for name, fn, count, _ingest in modes:  # interleaved: the same load for each
                docs = items(count, args.size, "bench")
                t0 = time.perf_counter()
                fn(docs)
                rates[name].append(count / (time.perf_counter() - t0))
        report = archiver.audit.verify()
        assert report.ok, report.problems
    finally:
        engine.dispose()
        drop()
        weed.terminate()
        weed.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in rates.items()}
    bare = med[modes[0][0]]
    print(f"\n{n} documents of {args.size // 1024} KB per measurement, {w} put threads, "
          f"{args.reps} interleaved repetitions (median, min-max), PostgreSQL + SeaweedFS S3 "
          f"Object Lock (private instance); load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs\n")
    print(f"{'operation':<40} {'docs/s':>8} {'min-max':>13} {'x bare':>7}")
    print("-" * 71)
    for name, *_ in modes:
        lo, hi = min(rates[name]), max(rates[name])
        print(f"{name:<40} {med[name]:>8.1f} {f'{lo:.0f}-{hi:.0f}':>13} {med[name] / bare:>7.2f}")
    print(f"\naudit chain verified: {report.entries} entries")
    best_name = max((name for name, *rest in modes if rest[2]), key=lambda k: med[k])
    best = med[best_name]
    ratio_ok, rate_ok = best >= 0.5 * bare, best >= 100
    print(f"best ingest: {best_name}")
    print(f"target ingest >= 0.5x bare put: {best / bare:.2f}x  {'PASS' if ratio_ok else 'MISS'}")
    print(f"target ingest >= 100 docs/s:    {best:.0f}/s  {'PASS' if rate_ok else 'MISS'}")
    return 0 if ratio_ok and rate_ok else 1


if __name__ == "__main__":
    sys.exit(main())
