"""End to end: throughput, latency and archive size, naive glue vs hsba (issue 12).

One run, same form (``consent_surgery``, 1 page, Vietnamese sample data), same keys
(SoftHSM2 token ``doctor-an`` for the doctor, ``seal`` for the hospital seal), same
real services on loopback (``scripts/test-services.sh``: PostgreSQL, SeaweedFS S3
with Object Lock, certomancer TSA/OCSP over HTTP); the S3 is a throwaway ``weed mini``
started by this script (``bench/archive.py``'s ``private_s3``) so locked outputs never
fill the shared test bucket. The TSA is a second instance of
``scripts/pki_server.py`` started by this script with ``--delay-ms`` (default 50 ms
per request), so the shared test PKI keeps its speed for the others' tests.

Pipelines, each document from form data to an archived, indexed PDF:

- ``naive``: the libraries as their docs show. WeasyPrint ``HTML(...).write_pdf(
  pdf_variant="pdf/a-3b")`` → pyHanko ``signers.sign_pdf`` twice (doctor, then the
  hospital seal for the patient), each PAdES with ``HTTPTimeStamper``,
  ``embed_validation_info=True``, ``use_pades_lta=True`` and a ``ValidationContext
  (allow_fetching=True)`` → ``minio.put_object`` → one SQLAlchemy insert.
- ``hsba``: ``templates.render.render_form`` → ``signer.sign.async_sign_pdf``
  (doctor certifies, B-LT) → ``signer.patient.async_seal_patient_confirmation``
  (B-LTA) → ``archive.ingest.Archiver.archive_document`` (S3 Object Lock put +
  verify, index rows, audit chain), components from ``workflow.services.Services``
  on the services profile (the workflow's own keystore, TSAs, revocation source).

Each runs with 1 and 2 worker processes (each worker: its own keys/sessions, one
warm-up document not counted; hsba's then settles its heap as the API does,
``core.heap.settle_after_warm_up``), one document at a time per worker.
hsba also runs with 2 workers keeping ``--inflight`` (default 2) documents in flight
each, one thread and one pipeline instance per document in flight, as the service's
signing pool does: one document's CPU then fills another's TSA round trips
(per-document CPU is then measured per thread). The naive glue stays one document at
a time, as the libraries' docs show it. The throughput target compares that run with
the naive glue's 2 workers; the latency target uses hsba's 1 worker, one document at
a time. Printed: per-stage median and p90, per-document
latency p50/p95 and CPU time, documents per second, bytes per archived document
with a breakdown, and the issue's target ratios. The last document of every run is
checked: pyHanko AdES (B-LTA, offline), poppler ``pdfsig``, ``hsba pdfa check``.

    scripts/test-services.sh start
    .venv/bin/python bench/e2e.py [--docs 12] [--tsa-delay-ms 50] [--max-seconds 240]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing as mp
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

FORM = "consent_surgery"


# --- configuration shared with the workers -------------------------------------------
def _services_env() -> dict[str, str]:
    from tests.conftest import read_env_file

    return read_env_file(REPO / ".test-services" / "env")


def _settings(cfg: dict[str, Any]) -> Any:
    from core.settings import Settings

    env = cfg["env"]
    return Settings(
        env="test", data_dir=Path(cfg["work"]) / "var", database_url=cfg["pg_url"],
        store="s3", s3_endpoint=env["HSBA_TEST_S3_ENDPOINT"],
        s3_access_key=env["HSBA_TEST_S3_ACCESS_KEY"],
        s3_secret_key=env["HSBA_TEST_S3_SECRET_KEY"], s3_bucket=env["HSBA_TEST_S3_BUCKET"],
        s3_secure=False, keystore="pkcs11", pkcs11_module=env["HSBA_TEST_PKCS11_MODULE"],
        pkcs11_token_label=env["HSBA_TEST_PKCS11_TOKEN_LABEL"],
        pkcs11_user_pin=env["HSBA_TEST_PKCS11_USER_PIN"], pki="external",
        tsa_urls=[cfg["tsa_url"]], trust_pems=[Path(cfg["root_pem"])],
        secret_key="hsba-bench-secret-" + uuid.uuid4().hex)


def _form_data() -> dict[str, Any]:
    from templates.render import sample_data

    return sample_data(FORM)


# --- the two pipelines (each a class: set-up once per worker, then one document) -----
class NaiveGlue:
    """Default library usage, as the libraries' documentation shows it."""

    stages = ("render", "sign doctor B-LTA", "sign seal B-LTA", "s3 put", "index row")

    def __init__(self, cfg: dict[str, Any], boxes: dict[str, list[int]]) -> None:
        import sqlalchemy as sa
        from minio import Minio
        from pyhanko.sign import pkcs11 as ph_pkcs11

        from tests.pki.testpki import load_test_pki

        env = cfg["env"]
        self.cfg, self.boxes = cfg, boxes
        pki = load_test_pki()
        self.root, self.interm = pki.root, pki.interm
        self.session = ph_pkcs11.open_pkcs11_session(
            env["HSBA_TEST_PKCS11_MODULE"], token_criteria=ph_pkcs11.TokenCriteria(
                label=env["HSBA_TEST_PKCS11_TOKEN_LABEL"]),
            user_pin=env["HSBA_TEST_PKCS11_USER_PIN"])
        self.signers = {
            label: ph_pkcs11.PKCS11Signer(self.session, cert_label=label, key_label=label,
                                          ca_chain=[self.interm, self.root])
            for label in ("doctor-an", "seal")}
        self.s3 = Minio(env["HSBA_TEST_S3_ENDPOINT"], access_key=env["HSBA_TEST_S3_ACCESS_KEY"],
                        secret_key=env["HSBA_TEST_S3_SECRET_KEY"], secure=False)
        self.bucket = env["HSBA_TEST_S3_BUCKET"]
        self.engine = sa.create_engine(cfg["pg_url"])
        self.table = _naive_table(sa.MetaData())
        self.data = _form_data()

    def _sign(self, pdf: bytes, field: str, label: str) -> bytes:
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign import fields, signers, timestamps
        from pyhanko_certvalidator import ValidationContext

        meta = signers.PdfSignatureMetadata(
            field_name=field, subfilter=fields.SigSeedSubFilter.PADES,
            embed_validation_info=True, use_pades_lta=True,
            validation_context=ValidationContext(trust_roots=[self.root], allow_fetching=True))
        box = self.boxes[field]
        out = signers.sign_pdf(
            IncrementalPdfFileWriter(BytesIO(pdf)), meta, signer=self.signers[label],
            timestamper=timestamps.HTTPTimeStamper(self.cfg["tsa_url"]),
            new_field_spec=fields.SigFieldSpec(field, on_page=0, box=tuple(box)))
        return bytes(out.getvalue())

    def one(self, i: int, mark: Callable[[str], None]) -> bytes:
        from weasyprint import HTML

        from templates import catalogue
        from templates.render import form_html

        doc_id = f"NAIVE-{os.getpid()}-{i}-{uuid.uuid4().hex[:6]}"
        html = form_html(FORM, self.data, document_id=doc_id,
                         verify_url=f"http://127.0.0.1/v/{doc_id}").html
        pdf = HTML(string=html, base_url=str(catalogue.FORMS_DIR)).write_pdf(
            pdf_variant="pdf/a-3b")
        mark("render")
        pdf = self._sign(pdf, "doctor", "doctor-an")
        mark("sign doctor B-LTA")
        pdf = self._sign(pdf, "patient", "seal")
        mark("sign seal B-LTA")
        key = f"naive/{doc_id}.pdf"
        self.s3.put_object(self.bucket, key, BytesIO(pdf), len(pdf),
                           content_type="application/pdf")
        mark("s3 put")
        with self.engine.begin() as conn:
            conn.execute(self.table.insert().values(
                id=doc_id, object_key=key, sha256=hashlib.sha256(pdf).hexdigest(),
                size=len(pdf), created_at=datetime.now(UTC)))
        mark("index row")
        return pdf

    def close(self) -> None:
        self.session.close()
        self.engine.dispose()


def _naive_table(md: Any) -> Any:
    import sqlalchemy as sa

    return sa.Table("bench_naive_documents", md,
                    sa.Column("id", sa.String(80), primary_key=True),
                    sa.Column("object_key", sa.String(200)), sa.Column("sha256", sa.String(64)),
                    sa.Column("size", sa.Integer), sa.Column("created_at", sa.DateTime(True)))


class HsbaPipeline:
    """hsba's own stages with the workflow's components (services profile)."""

    stages = ("render", "doctor B-LT", "patient sealed B-LTA", "archive+index")

    def __init__(self, cfg: dict[str, Any], boxes: dict[str, list[int]]) -> None:
        from workflow.services import Services

        self.services = Services.from_settings(_settings(cfg))
        ks = self.services.keystore
        self.doctor = ks.signer_for("doctor-an")
        self.seal = ks.signer_for("seal")
        self.tsas = self.services.timestampers()
        self.data = _form_data()
        self.loop = asyncio.new_event_loop()

    def one(self, i: int, mark: Callable[[str], None]) -> bytes:
        from archive.ingest import DocumentMeta, IngestItem, SignatureRecord
        from signer.patient import PatientConfirmation, async_seal_patient_confirmation
        from signer.request import SignRequest
        from signer.sign import async_sign_pdf
        from templates.render import render_form

        doc_id = f"HSBA-{os.getpid()}-{i}-{uuid.uuid4().hex[:6]}"
        pdf = render_form(FORM, self.data, document_id=doc_id,
                          verify_url=f"http://127.0.0.1/v/{doc_id}").pdf
        mark("render")
        rev = self.services.revocation()
        pdf = self.loop.run_until_complete(async_sign_pdf(
            pdf, SignRequest("doctor", "BS. Nguyễn Văn An", role="Bác sĩ điều trị",
                             reason="Lập và chứng nhận tài liệu", level="B-LT", certify=True,
                             method="hsm"),
            signer=self.doctor, timestampers=self.tsas, revocation=rev))
        mark("doctor B-LT")
        confirmation = PatientConfirmation(
            patient_name="Trần Thị Bình", method="handwritten_pad",
            evidence_sha256=hashlib.sha256(doc_id.encode()).hexdigest(),
            device_id="kiosk-01", captured_at=datetime.now(UTC))
        pdf, _evidence = self.loop.run_until_complete(async_seal_patient_confirmation(
            pdf, confirmation, seal_signer=self.seal, document_id=doc_id, level="B-LTA",
            timestampers=self.tsas, revocation=rev))
        mark("patient sealed B-LTA")
        now = datetime.now(UTC)
        self.services.archiver.archive_document(IngestItem(
            document_id=doc_id, data=pdf, actor_id="bench",
            meta=DocumentMeta(tenant_id="70001", form_code=FORM, patient_ref=f"P-{i}"),
            reason="B-LTA:patient", signatures=(
                SignatureRecord("doctor", "doctor", "doctor-an", "hsm_key", "B-LT", now),
                SignatureRecord("patient", "patient", "seal", "patient_pad", "B-LTA", now))))
        mark("archive+index")
        return pdf

    def close(self) -> None:
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())  # TSA session
        self.loop.close()
        self.services.close()


PIPELINES: dict[str, type[NaiveGlue | HsbaPipeline]] = {
    "naive": NaiveGlue, "hsba": HsbaPipeline}


# --- worker processes ---------------------------------------------------------------
def _worker(kind: str, cfg: dict[str, Any], boxes: dict[str, list[int]], count: int,
            barrier: Any, out: Any, inflight: int = 1) -> None:
    """One worker process: ``count`` documents, ``inflight`` of them at a time (one
    thread and one pipeline instance each; CPU per document by thread when > 1)."""
    import threading

    os.environ["SOFTHSM2_CONF"] = cfg["env"]["SOFTHSM2_CONF"]
    os.environ["HSBA_ENV"] = "test"
    pipelines = [PIPELINES[kind](cfg, boxes) for _ in range(inflight)]
    clock = time.process_time if inflight == 1 else time.thread_time
    try:
        for pipeline in pipelines:
            pipeline.one(-1, lambda _s: None)  # warm-up: imports, fonts, sessions, TSA call
        if kind == "hsba":  # as hsba's API does once warmed up
            from core.heap import settle_after_warm_up

            settle_after_warm_up()
        barrier.wait()
        start, rows, last = time.time(), [], [b""]
        lock = threading.Lock()
        todo = iter(range(count))
        errors: list[str] = []

        def drain(pipeline: Any) -> None:
            while True:
                with lock:
                    i = next(todo, None)
                if i is None or time.time() - start > cfg["max_seconds"]:
                    return
                stages: dict[str, float] = {}
                stage_cpu: dict[str, float] = {}
                t0 = t = time.perf_counter()
                c0 = c = clock()

                def mark(name: str, stages: dict[str, float] = stages,
                         stage_cpu: dict[str, float] = stage_cpu) -> None:
                    nonlocal t, c
                    now, cpu_now = time.perf_counter(), clock()
                    stages[name], stage_cpu[name] = now - t, cpu_now - c
                    t, c = now, cpu_now

                try:
                    pdf = pipeline.one(i, mark)
                except Exception as e:  # noqa: BLE001 - reported by the parent
                    import traceback

                    errors.append(f"{type(e).__name__}: {e}\n{traceback.format_exc()[-1500:]}")
                    return
                with lock:
                    last[0] = pdf
                    rows.append({"stages": stages, "stage_cpu": stage_cpu,
                                 "latency": time.perf_counter() - t0,
                                 "cpu": clock() - c0, "size": len(pdf)})

        threads = [threading.Thread(target=drain, args=(p,)) for p in pipelines]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise RuntimeError(errors[0])
        out.put({"start": start, "end": time.time(), "rows": rows, "sample": last[0]})
    except Exception as e:  # noqa: BLE001 - reported by the parent
        import traceback

        out.put({"error": f"{type(e).__name__}: {e}\n{traceback.format_exc()[-1500:]}"})
        barrier.abort()
    finally:
        for pipeline in pipelines:
            pipeline.close()


def run(kind: str, workers: int, cfg: dict[str, Any], boxes: dict[str, list[int]],
        docs: int, inflight: int = 1) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(workers), ctx.Queue()
    per = [docs // workers + (1 if w < docs % workers else 0) for w in range(workers)]
    procs = [ctx.Process(target=_worker, args=(kind, cfg, boxes, n, barrier, out, inflight))
             for n in per]
    for p in procs:
        p.start()
    results = [out.get(timeout=cfg["max_seconds"] + 300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    errors = [r["error"] for r in results if "error" in r]
    if errors:
        raise RuntimeError(f"{kind} x{workers} failed:\n" + "\n".join(errors))
    rows = [row for r in results for row in r["rows"]]
    wall = max(r["end"] for r in results) - min(r["start"] for r in results)
    return {"kind": kind, "workers": workers, "inflight": inflight, "rows": rows, "wall": wall,
            "docs_per_s": len(rows) / wall if wall else 0.0, "sample": results[0]["sample"]}


# --- measuring an archived file -----------------------------------------------------
def breakdown(pdf: bytes) -> dict[str, int]:
    """Bytes of the file by kind: signature containers (``/Contents`` as written, hex
    and padding included), fonts (embedded font programs), validation data (DSS
    certificates, OCSP responses, CRLs, VRI), structure (everything else: page
    content, XMP, data.json, appearances, dictionaries, xref of every revision)."""
    import pikepdf

    sig = fonts = vdata = 0
    seen: set[tuple[int, int]] = set()
    with pikepdf.open(BytesIO(pdf)) as doc:
        for obj in doc.objects:
            if not isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
                continue
            if obj.get("/Type") in (pikepdf.Name.Sig, pikepdf.Name.DocTimeStamp) \
                    and "/Contents" in obj:
                sig += 2 * len(bytes(obj.Contents)) + 2
            if "/FontFile" in obj or "/FontFile2" in obj or "/FontFile3" in obj:
                for k in ("/FontFile", "/FontFile2", "/FontFile3"):
                    if k in obj and obj[k].objgen not in seen:
                        seen.add(obj[k].objgen)
                        fonts += len(obj[k].read_raw_bytes())
        dss = doc.Root.get("/DSS")
        if dss is not None:
            for k in ("/Certs", "/OCSPs", "/CRLs"):
                for s in dss.get(k, []):
                    if s.objgen not in seen:
                        seen.add(s.objgen)
                        vdata += len(s.read_raw_bytes())
    return {"total": len(pdf), "signatures": sig, "fonts": fonts, "validation": vdata,
            "structure": len(pdf) - sig - fonts - vdata, "revisions": pdf.count(b"%%EOF")}


def check_output(pdf: bytes, root: Any, work: Path, name: str) -> dict[str, str]:
    """pyHanko AdES (B-LTA, offline), pdfsig, hsba's PDF/A check."""
    from templates.pdfa import check_pdfa
    from tests.signer.checks import ades_results

    results: dict[str, str] = {}
    try:
        ades = ades_results(pdf, root, "B-LTA")
        results["AdES LTA"] = ("PASSED" if ades and all(s == "PASSED" for s, _ in ades)
                               else f"FAILED {ades}")
    except Exception as e:  # noqa: BLE001 - reported in the table
        results["AdES LTA"] = f"ERROR {type(e).__name__}: {e}"[:200]
    path = work / f"{name}.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True,
                          check=False).stdout
    ok = text.count("Signature is Valid.")
    results["pdfsig"] = ("valid" if ok >= 2 and "Invalid" not in text
                         else f"{ok} valid: {text[-300:]}")
    results["pdfa"] = check_pdfa(pdf).verdict
    return results


# --- set-up and report ------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_slow_tsa(env: dict[str, str], delay_ms: int, work: Path) -> tuple[Any, str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "pki_server.py"), "--config",
         env["HSBA_TEST_PKI_CONFIG"], "--key-root", env["HSBA_TEST_PKI_KEY_ROOT"],
         "--port", str(port), "--delay-ms", str(delay_ms)],
        stdout=subprocess.DEVNULL, stderr=(work / "tsa.log").open("w"), cwd=REPO)
    import httpx

    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/_hsba/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    arch = env["HSBA_TEST_PKI_ARCH"]
    return proc, f"http://127.0.0.1:{port}/{arch}/tsa/tsa"


def tsa_round_trip_ms(url: str, n: int = 12) -> float:
    """Median idle time (wall minus this process's CPU) of one time-stamp request to
    ``url`` through hsba's TSA client (keep-alive session, nonce and imprint checks),
    measured alone in this process: what a document waits per time-stamp."""
    from signer.timestamps import http_timestampers, timestamper_for

    stamper = timestamper_for(http_timestampers([url]))

    async def measure() -> list[float]:
        out = []
        for i in range(n + 2):
            t, c = time.perf_counter(), time.process_time()
            await stamper.async_timestamp(hashlib.sha256(b"rtt%d" % i).digest(), "sha256")
            out.append((time.perf_counter() - t - (time.process_time() - c)) * 1000)
        return out[2:]  # the first two open the connection

    return statistics.median(asyncio.run(measure()))


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))] if s else float("nan")


def report(results: list[dict[str, Any]], checks: dict[str, dict[str, str]],
           sizes: dict[str, dict[str, int]], delay_ms: int, rtt_ms: float = 0.0) -> None:
    print(f"\nend to end, {FORM} (1 page, 2 signatures, B-LTA), TSA +{delay_ms} ms per "
          f"request, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}\n")
    print("| pipeline | workers | in flight | docs | docs/s | latency p50 s | p95 s | "
          "CPU s/doc |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        lat = [x["latency"] for x in r["rows"]]
        cpu = [x["cpu"] for x in r["rows"]]
        print(f"| {r['kind']} | {r['workers']} | {r['inflight']} | {len(lat)} | "
              f"{r['docs_per_s']:.2f} | {_pct(lat, 50):.3f} | {_pct(lat, 95):.3f} | "
              f"{statistics.median(cpu):.3f} |")
    print("\nper stage, 1 worker (seconds): wall median / p90, CPU of this process "
          "(median), wall - CPU = waiting (TSA, OCSP, S3, PostgreSQL, other processes)\n")
    print("| pipeline | stage | median | p90 | CPU | waiting |")
    print("|---|---|---:|---:|---:|---:|")
    for r in results:
        if r["workers"] != 1 or r["inflight"] != 1:
            continue
        for stage in PIPELINES[r["kind"]].stages:
            v = [x["stages"][stage] for x in r["rows"]]
            cpu = [x["stage_cpu"][stage] for x in r["rows"]]
            wait = [x["stages"][stage] - x["stage_cpu"][stage] for x in r["rows"]]
            print(f"| {r['kind']} | {stage} | {statistics.median(v):.3f} | {_pct(v, 90):.3f} | "
                  f"{statistics.median(cpu):.3f} | {statistics.median(wait):.3f} |")
    print("\nbytes per archived document\n")
    print("| pipeline | total | signature containers | fonts | validation data | "
          "structure | revisions |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for kind, b in sizes.items():
        print(f"| {kind} | {b['total']:,} | {b['signatures']:,} | {b['fonts']:,} | "
              f"{b['validation']:,} | {b['structure']:,} | {b['revisions']} |")
    print("\nchecks of the last document of each run\n")
    for name, c in checks.items():
        print(f"- {name}: " + ", ".join(f"{k} {v}" for k, v in c.items()))
    by = {(r["kind"], r["workers"]): r for r in results if r["inflight"] == 1}
    busy = {r["workers"]: r for r in results if r["kind"] == "hsba" and r["inflight"] > 1}
    print("\ntargets")
    if ("hsba", 2) in by and ("naive", 2) in by:
        naive = by[("naive", 2)]["docs_per_s"]
        ratio = by[("hsba", 2)]["docs_per_s"] / naive
        print(f"- throughput hsba / naive, 2 workers, one document at a time each: "
              f"{ratio:.2f}×")
        if 2 in busy:
            ratio = busy[2]["docs_per_s"] / naive
            print(f"- throughput hsba / naive, 2 workers, hsba with {busy[2]['inflight']} "
                  f"documents in flight per worker: {ratio:.2f}× (target ≥ 3): "
                  f"{_verdict(ratio >= 3)}")
    if "hsba" in sizes and "naive" in sizes:
        ratio = sizes["hsba"]["total"] / sizes["naive"]["total"]
        print(f"- bytes hsba / naive: {ratio:.2f} (target ≤ 0.6): {_verdict(ratio <= 0.6)}")
    if ("hsba", 1) in by:
        rows = by[("hsba", 1)]["rows"]
        p95 = _pct([x["latency"] for x in rows], 95)
        cpu = statistics.median([x["cpu"] for x in rows])
        print(f"- hsba p95 latency / CPU time, 1 worker: {p95:.3f} s / {cpu:.3f} s = "
              f"{p95 / cpu:.2f} (target ≤ 1.5): {_verdict(p95 / cpu <= 1.5)}")
        if rtt_ms:
            wait = statistics.median([x["latency"] - x["cpu"] for x in rows]) * 1000
            print(f"  floor: the doctor's signature, the seal and the document time-stamp "
                  f"each wait for a time-stamp that depends on the one before; one "
                  f"time-stamp round trip measured alone waits {rtt_ms:.1f} ms, three: "
                  f"{3 * rtt_ms:.0f} ms, so latency / CPU ≥ {1 + 3 * rtt_ms / 1000 / cpu:.2f} "
                  f"at this CPU time; measured waiting per document (median latency − "
                  f"CPU): {wait:.0f} ms")
    for kind in ("hsba", "naive"):
        r = by.get((kind, 2))
        if r:
            cpu = statistics.median([x["cpu"] for x in r["rows"]])
            print(f"- {kind}: {1 / cpu:.2f} documents per second per core of signing-side "
                  f"CPU ({cpu:.3f} s/doc)")


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=12, help="documents per run (bounded)")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--tsa-delay-ms", type=int, default=50)
    ap.add_argument("--max-seconds", type=float, default=240, help="per run")
    ap.add_argument("--only", choices=["naive", "hsba"], default=None)
    ap.add_argument("--inflight", type=int, default=2,
                    help="documents in flight per hsba worker in the extra throughput run "
                         "(threads, as the service's signing pool); 1: no extra run")
    args = ap.parse_args()

    import psycopg
    import sqlalchemy as sa

    from bench.archive import private_s3
    from tests.pki.testpki import load_test_pki

    env = _services_env()
    os.environ["SOFTHSM2_CONF"] = env["SOFTHSM2_CONF"]
    os.environ["HSBA_ENV"] = "test"
    work = Path(tempfile.mkdtemp(prefix="hsba-e2e-"))
    (work / "var").mkdir()
    (work / "s3").mkdir()
    # a throwaway SeaweedFS: Object-Locked outputs never fill the shared test bucket
    weed, s3env = private_s3(work / "s3")
    env.update(s3env)
    pki = load_test_pki()
    root_pem = pki.write_pem("root", work / "root.pem")
    database = f"hsba_bench_{uuid.uuid4().hex[:10]}"
    conninfo = (f"host={env['HSBA_TEST_PG_HOST']} port={env['HSBA_TEST_PG_PORT']} "
                f"user={env['HSBA_TEST_PG_USER']} dbname={env['HSBA_TEST_PG_DB']}")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    tsa_proc, tsa_url = _start_slow_tsa(env, args.tsa_delay_ms, work)
    rtt_ms = tsa_round_trip_ms(tsa_url)
    cfg = {"env": env, "work": str(work), "root_pem": str(root_pem), "tsa_url": tsa_url,
           "max_seconds": args.max_seconds,
           "pg_url": (f"postgresql+psycopg://{env['HSBA_TEST_PG_USER']}@"
                      f"{env['HSBA_TEST_PG_HOST']}:{env['HSBA_TEST_PG_PORT']}/{database}")}
    try:
        from templates.render import render_form
        from workflow.services import Services

        Services.from_settings(_settings(cfg)).close()  # migrations once, before workers
        engine = sa.create_engine(cfg["pg_url"])
        _naive_table(md := sa.MetaData())
        md.create_all(engine)
        engine.dispose()
        rendered = render_form(FORM, _form_data(), document_id="BOX", verify_url="x")
        boxes = {f.name: [int(v) for v in f.box] for f in rendered.signature_fields}
        results, samples = [], {}
        kinds = [args.only] if args.only else ["naive", "hsba"]
        for workers in [int(w) for w in args.workers.split(",")]:
            for kind in kinds:
                print(f"running {kind} with {workers} worker(s)...", file=sys.stderr)
                r = run(kind, workers, cfg, boxes, args.docs)
                results.append(r)
                samples[f"{kind} x{workers}"] = r["sample"]
            if "hsba" in kinds and workers > 1 and args.inflight > 1:
                print(f"running hsba with {workers} worker(s), {args.inflight} documents "
                      "in flight each...", file=sys.stderr)
                r = run("hsba", workers, cfg, boxes, args.docs, args.inflight)
                results.append(r)
                samples[f"hsba x{workers} ({args.inflight} in flight)"] = r["sample"]
        checks = {name: check_output(pdf, pki.root, work, name.replace(" ", "_"))
                  for name, pdf in samples.items()}
        sizes = {kind: breakdown(next(p for n, p in samples.items() if n.startswith(kind)))
                 for kind in kinds}
        report(results, checks, sizes, args.tsa_delay_ms, rtt_ms)
        failed = [name for name, c in checks.items() if name.startswith("hsba") and (
            c["AdES LTA"] != "PASSED" or c["pdfsig"] != "valid" or c["pdfa"] != "PASS")]
        if failed:
            print(f"\nFAILED: hsba outputs that do not validate: {failed}", file=sys.stderr)
            return 1
    finally:
        tsa_proc.terminate()
        tsa_proc.wait(timeout=30)
        weed.terminate()
        weed.wait(timeout=30)
        shutil.rmtree(work / "s3", ignore_errors=True)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
