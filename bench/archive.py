"""Archive ingest throughput: store + index + audit on PostgreSQL + S3 (SeaweedFS Object Lock).

Beside it, in the same run, a bare S3 put of the same 100 KB objects with the
same concurrency (the baseline). Target (issue 7): ingest >= 0.5x the bare put
and >= 100 documents/s. Uses the test PostgreSQL (``scripts/test-services.sh
start`` if it is not up) with a fresh database, and its OWN throwaway SeaweedFS
(``weed mini`` in a temporary directory, an Object Lock bucket, removed at the
end): the objects it writes are locked, so it must not fill the shared test
bucket.

    .venv/bin/python bench/archive.py [--n 600] [--batch 50] [--workers 8]
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--size", type=int, default=100 * 1024)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--workers", type=int, default=8)
    args = ap.parse_args()
    import shutil
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
    rows = []
    try:
        warm = items(20, args.size, "bench")
        archiver.archive_documents(warm, max_workers=args.workers)

        docs = items(args.n, args.size, "bench")
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.workers) as pool:
            list(pool.map(lambda it: client.put_object(
                bucket, f"bench/{run}/bare/{it.document_id}.pdf", io.BytesIO(it.data),
                len(it.data)), docs))
        bare = args.n / (time.perf_counter() - t0)
        rows.append(("bare S3 put (baseline)", bare))

        docs = items(args.n, args.size, "bench")
        t0 = time.perf_counter()
        for i in range(0, args.n, args.batch):
            archiver.archive_documents(docs[i:i + args.batch], max_workers=args.workers)
        batched = args.n / (time.perf_counter() - t0)
        rows.append((f"ingest, batches of {args.batch}", batched))

        docs = items(args.n, args.size, "bench")
        streams = 4
        per = max(1, args.batch // 2)
        chunks = [docs[i:i + per] for i in range(0, args.n, per)]
        t0 = time.perf_counter()
        with ThreadPoolExecutor(streams) as pool:
            list(pool.map(lambda c: archiver.archive_documents(
                c, max_workers=max(1, args.workers // streams)), chunks))
        streamed = args.n / (time.perf_counter() - t0)
        rows.append((f"ingest, {streams} streams x batches of {per}", streamed))

        docs = items(args.n, args.size, "bench")
        t0 = time.perf_counter()
        archiver.archive_stream(docs, batch_size=args.batch, max_workers=args.workers)
        pipelined = args.n / (time.perf_counter() - t0)
        rows.append((f"ingest, pipelined batches of {args.batch}", pipelined))

        docs = items(args.n // 2, args.size, "bench")
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.workers) as pool:
            list(pool.map(archiver.archive_document, docs))
        single = (args.n // 2) / (time.perf_counter() - t0)
        rows.append((f"ingest, one per call, {args.workers} threads", single))

        report = archiver.audit.verify()
        assert report.ok, report.problems
    finally:
        engine.dispose()
        drop()
        weed.terminate()
        weed.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n{args.n} documents of {args.size // 1024} KB, {args.workers} threads, "
          f"PostgreSQL + SeaweedFS S3 Object Lock (private instance)\n")
    print(f"{'operation':<38} {'docs/s':>8} {'x bare':>7}")
    print("-" * 56)
    for name, rate in rows:
        print(f"{name:<38} {rate:>8.1f} {rate / bare:>7.2f}")
    print(f"\naudit chain verified: {report.entries} entries")
    best = max(batched, streamed, pipelined)
    ok = best >= 0.5 * bare and best >= 100
    print(f"target (best ingest >= 0.5x bare and >= 100 docs/s): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
