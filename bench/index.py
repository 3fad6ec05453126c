"""Records-index search latency at scale (issue 7: every search < 50 ms at 1,000,000 documents).

Generates N documents (default 1,000,000) with one signature each, bulk-inserted
into a fresh database migrated by ``archive.db.upgrade`` (SQLite file by
default; ``--db-url postgresql+psycopg://...`` for PostgreSQL, loaded with
COPY), then times each search of ``RecordsIndex.search`` (first page of 50
and the next page by cursor) and prints a table. Baseline in the same run: a
full scan of the documents table (``count(*)`` with an unindexed predicate).

    .venv/bin/python bench/index.py [--n 1000000] [--db-url URL] [--repeat 15]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, text

from archive.db import make_engine, upgrade
from archive.index import RecordsIndex
from archive.models import Document, Signature, Tenant

TENANT = "70001"
FORMS = ["consent_surgery", "drug_disclosure", "billing_01kbcb", "discharge_paper",
         "record_summary", "lab_result", "treatment_sheet", "care_sheet",
         "outpatient_record_15bv1", "prescription"]
STATUSES = ["archived"] * 8 + ["awaiting_signatures", "destroyed"]
START = datetime(2020, 1, 1, tzinfo=UTC)


Rows = list[dict[str, Any]]


def _rows(n: int, seed: int = 7) -> tuple[Rows, Rows, Rows]:
    rnd = random.Random(seed)
    patients = max(1, n // 5)
    docs: Rows = []
    sigs: Rows = []
    signers: Rows = []
    span = 6 * 365 * 86400
    for i in range(n):
        p = rnd.randrange(patients)
        created = START + timedelta(seconds=span * i // n)
        doc_id = f"d{i:09d}"
        docs.append({
            "id": doc_id, "tenant_id": TENANT, "patient_ref": f"p{p:08d}",
            "patient_cccd": f"072{p:09d}", "patient_bhyt": f"DN472{p:010d}",
            "encounter_ref": f"e{(p * 2 + rnd.randrange(2)):09d}",
            "form_code": FORMS[rnd.randrange(len(FORMS))], "form_version": "v1",
            "department": f"K{rnd.randrange(30):02d}", "status": STATUSES[rnd.randrange(10)],
            "retention_class": "INPATIENT_10Y", "closed_year": created.year,
            "retain_until": None, "legal_hold": False, "current_version": 1,
            "policy_version": "2026.1", "key_year": created.year, "key_month": created.month,
            "last_timestamp_expiry": None, "created_at": created, "updated_at": created,
            "row_version": 1,
        })
        prac = rnd.randrange(500)
        sigs.append({"document_id": doc_id, "version_n": 1, "field": "doctor", "role": "doctor",
                     "signer_subject": f"CN=Practitioner {prac}", "practitioner_id": f"pr{prac:04d}",
                     "method": "pkcs11", "level": "B-LTA", "signed_at": created,
                     "policy_version": "2026.1"})
        for value in (f"pr{prac:04d}", f"CN=Practitioner {prac}"):
            signers.append({"tenant_id": TENANT, "signer": value, "created_at": created,
                            "document_id": doc_id})
    return docs, sigs, signers


def load(url: str, n: int) -> float:
    """Bulk load: secondary indexes dropped during the load and rebuilt after (as a DBA would)."""
    upgrade(url)
    engine = make_engine(url)
    t0 = time.perf_counter()
    docs, sigs, signers = _rows(n)
    indexes = [ix for table in (Document.__table__, Signature.__table__) for ix in table.indexes]
    with engine.begin() as c:
        for ix in indexes:
            ix.drop(c)
        c.execute(insert(Tenant), [{"id": TENANT, "name": "Bench hospital",
                                    "created_at": START}])
        if engine.dialect.name == "postgresql":
            _copy(c, "documents", docs)
            _copy(c, "signatures", sigs)
            _copy(c, "document_signers", signers)
        else:
            raw = c.connection.driver_connection
            for table, rows in (("documents", docs), ("signatures", sigs),
                                ("document_signers", signers)):
                cols = list(rows[0])
                sql = (f"INSERT INTO {table} ({', '.join(cols)}) "
                       f"VALUES ({', '.join('?' * len(cols))})")
                raw.executemany(sql, (tuple(_sqlite_value(r[k]) for k in cols) for r in rows))
        for ix in indexes:
            ix.create(c)
    with engine.begin() as c:
        c.execute(text("ANALYZE"))
    engine.dispose()
    return time.perf_counter() - t0


def _sqlite_value(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return v


def _copy(conn: Any, table: str, rows: list[dict[str, Any]]) -> None:
    cols = list(rows[0])
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
        for r in rows:
            cp.write_row([r[k].replace(tzinfo=None) if isinstance(r[k], datetime) else r[k]
                          for k in cols])


def timed(fn: Any, repeat: int) -> tuple[float, float, int]:
    times, count = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        count = fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1 if repeat > 1 else 0], count


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--db-url", default="")
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="hsba-bench-index-")
    url = args.db_url or f"sqlite:///{tmp}/index.db"
    print(f"loading {args.n:,} documents + {args.n:,} signatures into {url.split('@')[-1]} ...")
    load_s = load(url, args.n)
    print(f"loaded in {load_s:.1f} s ({args.n / load_s:,.0f} documents/s)")
    engine = make_engine(url)
    idx = RecordsIndex(engine)
    p = args.n // 5 // 3
    mid = START + timedelta(days=3 * 365)

    def page(**kw: Any) -> Any:
        def run() -> int:
            return len(idx.search(TENANT, **kw).items)
        return run

    def next_page(**kw: Any) -> Any:
        first = idx.search(TENANT, **kw)

        def run() -> int:
            return len(idx.search(TENANT, cursor=first.next_cursor, **kw).items)
        return run

    cases = [
        ("patient CCCD (số định danh)", page(patient_cccd=f"072{p:09d}")),
        ("patient BHYT card", page(patient_bhyt=f"DN472{p:010d}")),
        ("patient reference", page(patient_ref=f"p{p:08d}")),
        ("encounter", page(encounter_ref=idx.search(
            TENANT, patient_ref=f"p{p:08d}").items[0].encounter_ref)),
        ("form, newest 50", page(form_code="lab_result")),
        ("form, page 2 (cursor)", next_page(form_code="lab_result")),
        ("department, newest 50", page(department="K07")),
        ("status (rare), newest 50", page(status="destroyed")),
        ("date range (one week)", page(created_from=mid, created_to=mid + timedelta(days=7))),
        ("form + department + date range", page(form_code="prescription", department="K03",
                                                created_from=mid,
                                                created_to=mid + timedelta(days=90))),
        ("signer (practitioner id)", page(signer="pr0042")),
        ("signer + date range", page(signer="pr0042", created_from=mid,
                                     created_to=mid + timedelta(days=30))),
        ("CCCD, unknown patient", page(patient_cccd="079999999999")),
    ]
    with engine.connect() as c:
        def scan() -> int:
            return int(c.execute(text(
                "SELECT count(*) FROM documents WHERE policy_version = 'none'")).scalar_one())
        base = timed(scan, 3)
    print()
    print(f"{'search':<34} {'rows':>5} {'median ms':>10} {'p95 ms':>8}  < 50 ms")
    print("-" * 70)
    worst = 0.0
    for name, fn in cases:
        fn()  # warm
        med, p95, rows = timed(fn, args.repeat)
        worst = max(worst, p95)
        print(f"{name:<34} {rows:>5} {med:>10.2f} {p95:>8.2f}  {'yes' if p95 < 50 else 'NO'}")
    print("-" * 70)
    print(f"{'baseline: full table scan':<34} {'':>5} {base[0]:>10.2f} {base[1]:>8.2f}")
    print(f"\nworst p95 {worst:.2f} ms on {engine.dialect.name}, {args.n:,} documents")
    engine.dispose()
    return 0 if worst < 50 else 1


if __name__ == "__main__":
    sys.exit(main())
