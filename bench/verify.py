"""Verification throughput: hsba vs pyHanko's ``ades_lta_validation`` alone.

Builds B-LTA documents with 1, 3 and 10 signatures (test PKI from
tests/verify, fields laid out in advance, each signer B-T, then DSS with CRLs
and one document timestamp) and times, in the same run:

- ``pyhanko``: ``ades_lta_validation`` on every signature (offline, same trust);
- ``hsba (in-process)``: ``signer.verify.engine.analyse`` (all hsba checks);
- ``hsba (worker)``: ``signer.verify.verify_pdf`` (bounded worker, as the service).

The three run interleaved in every repetition (medians), so load from other
processes hits them alike; the in-process ratio is also given in CPU time.
Usage: ``.venv/bin/python bench/verify.py [--repeat N]`` (about a minute or two).
Targets (PASS/MISS per row): hsba ≤ 1.5× pyHanko's time, in-process and through
the worker; 10 signatures ≤ 12× one.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def build(n: int, pki: object) -> bytes:
    from tests.verify import documents

    names = [f"signer{i}" for i in range(n)]
    boxes = {name: (40 + (i % 5) * 105, 40 + (i // 5) * 50, 140 + (i % 5) * 105, 85 + (i // 5) * 50)
             for i, name in enumerate(names)}
    doc = documents.with_signature_fields(documents.base_form(), boxes)
    for i, name in enumerate(names):
        level = "B-LTA" if i == n - 1 else "B-T"
        doc = documents.sign(doc, pki, who="doctor", field=name, level=level)  # type: ignore[arg-type]
    return doc


def pyhanko_only(pdf: bytes, root: object) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.ades import ades_lta_validation

    from signer.verify.signatures import make_setup

    setup = make_setup([root], None, True)  # type: ignore[list-item]
    reader = PdfFileReader(BytesIO(pdf))

    async def run() -> None:
        for emb in reader.embedded_regular_signatures:
            await ades_lta_validation(emb, setup.spec)

    asyncio.run(run())


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (pdftoppm)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def measure(runs: dict[str, Callable[[], object]], repeat: int) -> dict[str, tuple[float, float]]:
    """Median wall time and median CPU time (this process) per run, the runs
    interleaved in every repetition so that load from elsewhere hits them alike."""
    walls: dict[str, list[float]] = {k: [] for k in runs}
    cpus: dict[str, list[float]] = {k: [] for k in runs}
    for fn in runs.values():  # warm-up: caches, imports, the worker
        fn()
    for _ in range(repeat):
        for name, fn in runs.items():
            c, t = cpu_seconds(), time.perf_counter()
            fn()
            walls[name].append(time.perf_counter() - t)
            cpus[name].append(cpu_seconds() - c)
    return {k: (statistics.median(walls[k]), statistics.median(cpus[k])) for k in runs}


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    logging.disable(logging.CRITICAL)
    from signer.verify import verify_pdf
    from signer.verify.engine import analyse
    from signer.verify.sandbox import shutdown, warm_up
    from tests.verify.pki import build_pki

    pki = build_pki(Path(tempfile.mkdtemp(prefix="hsba-bench-")))
    warm_up(1)
    rows = []
    t0 = time.perf_counter()
    for n in (1, 3, 10):
        pdf = build(n, pki)
        check = verify_pdf(pdf, trust_roots=[pki.root], offline=True)
        m = measure({
            "pyhanko": lambda pdf=pdf: pyhanko_only(pdf, pki.root),
            "inproc": lambda pdf=pdf: analyse(pdf, trust_roots=[pki.root], offline=True),
            "worker": lambda pdf=pdf: verify_pdf(pdf, trust_roots=[pki.root], offline=True),
        }, args.repeat)
        rows.append((n, check.verdict, m))
    shutdown()
    one = rows[0][2]
    load = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    print(f"verification throughput, same run; medians of {args.repeat} interleaved repetitions "
          f"(wall clock; CPU = this process + pdftoppm, in-process runs only); "
          f"{time.perf_counter() - t0:.0f} s")
    print(f"load average {load:.1f} on {cores} cores"
          + (" - machine busy: wall-clock ratios are noisy, compare the CPU column" if load > cores
             else ""))
    print("hsba in-proc = signer.verify.engine.analyse (every hsba check, PDF/A included); "
          "hsba worker = signer.verify.verify_pdf (bounded worker, as the service)")
    head = (f"{'sigs':>4} {'verdict':<26} {'pyHanko f/s':>11} {'in-proc f/s':>11} {'worker f/s':>10} "
            f"{'in-proc/pyH':>11} {'(CPU)':>6} {'worker/pyH':>10} {'target':>6}  result")
    print(head)
    print("-" * len(head))
    ok_all = True
    for n, v, m in rows:
        (pw, pc), (iw, ic), (ww, _) = m["pyhanko"], m["inproc"], m["worker"]
        ok = iw / pw <= 1.5 and ww / pw <= 1.5
        ok_all &= ok
        print(f"{n:>4} {v:<26} {1 / pw:>11.2f} {1 / iw:>11.2f} {1 / ww:>10.2f} "
              f"{iw / pw:>10.2f}x {ic / pc:>5.2f}x {ww / pw:>9.2f}x {'<=1.5x':>6}  {verdict(ok)}")
    ten = rows[-1][2]
    lin_in = ten["inproc"][0] / one["inproc"][0]
    lin_cpu = ten["inproc"][1] / one["inproc"][1]
    lin_w = ten["worker"][0] / one["worker"][0]
    lin_p = ten["pyhanko"][0] / one["pyhanko"][0]
    ok = lin_in <= 12 and lin_w <= 12
    ok_all &= ok
    print(f"linear growth, time(10 signatures) / time(1): in-proc {lin_in:.1f}x (CPU {lin_cpu:.1f}x), "
          f"worker {lin_w:.1f}x; target <= 12x: {verdict(ok)}  (pyHanko alone: {lin_p:.1f}x)")
    print("overall:", verdict(ok_all))
    return 0


if __name__ == "__main__":
    sys.exit(main())
