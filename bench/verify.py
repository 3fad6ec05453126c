"""Verification throughput: hsba vs pyHanko's ``ades_lta_validation`` alone.

Builds B-LTA documents with 1, 3 and 10 signatures (test PKI from
tests/verify, fields laid out in advance, each signer B-T, then DSS with CRLs
and one document timestamp) and times, in the same run:

- ``pyhanko``: ``ades_lta_validation`` on every signature (offline, same trust);
- ``hsba (in-process)``: ``signer.verify.engine.analyse`` (all hsba checks);
- ``hsba (worker)``: ``signer.verify.verify_pdf`` (bounded worker, as the service).

Usage: ``.venv/bin/python bench/verify.py [--repeat N]``. Prints a table.
Targets: hsba ≤ 1.5× pyHanko; 10 signatures ≤ 12× one.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
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


def timed(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    logging.disable(logging.CRITICAL)
    from signer.verify import verify_pdf
    from signer.verify.engine import analyse
    from signer.verify.sandbox import warm_up
    from tests.verify.pki import build_pki

    pki = build_pki(Path(tempfile.mkdtemp(prefix="hsba-bench-")))
    warm_up(1)
    rows = []
    for n in (1, 3, 10):
        pdf = build(n, pki)
        check = verify_pdf(pdf, trust_roots=[pki.root], offline=True)
        base = timed(lambda pdf=pdf: pyhanko_only(pdf, pki.root), args.repeat)
        inproc = timed(lambda pdf=pdf: analyse(pdf, trust_roots=[pki.root], offline=True,
                                               check_pdfa=False), args.repeat)
        worker = timed(lambda pdf=pdf: verify_pdf(pdf, trust_roots=[pki.root], offline=True),
                       args.repeat)
        rows.append((n, check.verdict, base, inproc, worker))
    one = rows[0]
    print(f"{'sigs':>4} {'verdict':<27} {'pyHanko files/s':>15} {'hsba in-proc f/s':>16} "
          f"{'hsba worker f/s':>15} {'in-proc/pyH':>11} {'worker/pyH':>10} {'worker vs 1 sig':>15}")
    for n, verdict, base, inproc, worker in rows:
        print(f"{n:>4} {verdict:<27} {1 / base:>15.2f} {1 / inproc:>16.2f} {1 / worker:>15.2f} "
              f"{inproc / base:>10.2f}x {worker / base:>9.2f}x {worker / one[4]:>14.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
