"""Form rendering benchmark: hsba's render_form vs a plain WeasyPrint render of the same HTML.

For each form: median wall time over N interleaved runs and the output size of
  - hsba: ``templates.render.render_form`` (validation, Jinja2, cached fonts and parsed
    stylesheet, the template version's layout cache (``templates.layout``: computed
    styles, table column widths and line breaks of the version's sample render), PDF/A-3b,
    XMP, data.json, signature fields, object streams);
  - plain: ``weasyprint.HTML(string=html_with_inline_css).write_pdf()``, what a caller
    does without caching (fresh font configuration and stylesheet parse every time);
  - plain A-3b: the same with ``pdf_variant="pdf/a-3b"`` (same conformance level, no
    data.json, no signature fields, no XMP identification).
Target: hsba time ≤ 0.5 × plain, size ≤ plain (medians of the per-form ratios; each row
also says PASS/MISS). Usage: ``python bench/render.py [-n 7]``. The load average is printed:
on a shared machine, compare ratios (same run), never absolute times.

Every form is rendered once on each path before timing; the ``first ms`` column is that
first hsba render of the form in the process, which also measures the version's sample
payload for the layout cache (a one-off per process and template version).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from templates.catalogue import form_codes
from templates.render import LAYOUT_CSS, form_html, render_form, sample_data

TIME_TARGET = 0.5
SIZE_TARGET = 1.0


def _verdict(ratio: float, target: float) -> str:
    return "PASS" if ratio <= target else "MISS"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=5, help="runs per form and per variant")
    ap.add_argument("forms", nargs="*", default=None)
    args = ap.parse_args()
    import weasyprint

    css = LAYOUT_CSS.read_text(encoding="utf-8")
    codes = args.forms or form_codes()
    # Warm-up: imports, font discovery, template compilation and, for hsba, the layout
    # cache of each form version (timed: the "first ms" column).
    first: dict[str, float] = {}
    for code in codes:
        warm = form_html(code, sample_data(code), document_id="W", verify_url="http://x/v")
        weasyprint.HTML(string=warm.html.replace("</head>", f"<style>{css}</style></head>")
                        ).write_pdf()
        t0 = time.perf_counter()
        render_form(code, sample_data(code), document_id="W", verify_url="http://x/v")
        first[code] = time.perf_counter() - t0

    print(f"load average before: {os.getloadavg()[0]:.2f}")
    print(f"{'form':26} {'hsba ms':>8} {'plain ms':>9} {'A-3b ms':>8} {'time x':>7} "
          f"{'hsba KB':>8} {'plain KB':>9} {'A-3b KB':>8} {'size x':>7} {'size x A-3b':>11} "
          f"{'first ms':>8}  verdict")
    ratios_t, ratios_s, ratios_sa = [], [], []
    for code in codes:
        data = sample_data(code)
        doc_id, url = "HSBA-72001-2026-000123", "http://127.0.0.1:8000/verify/HSBA-72001-2026-000123"
        fh = form_html(code, data, document_id=doc_id, verify_url=url)
        plain_html = fh.html.replace("</head>", f"<style>{css}</style></head>")
        t_hsba, t_plain, t_pa = [], [], []
        size_hsba = size_plain = size_pa = 0
        for _ in range(args.n):
            t0 = time.perf_counter()
            size_plain = len(weasyprint.HTML(string=plain_html).write_pdf())
            t1 = time.perf_counter()
            size_hsba = len(render_form(code, data, document_id=doc_id, verify_url=url).pdf)
            t2 = time.perf_counter()
            size_pa = len(weasyprint.HTML(string=plain_html).write_pdf(pdf_variant="pdf/a-3b"))
            t3 = time.perf_counter()
            t_plain.append(t1 - t0)
            t_hsba.append(t2 - t1)
            t_pa.append(t3 - t2)
        mh, mp, ma = (statistics.median(t) for t in (t_hsba, t_plain, t_pa))
        rt, rs = mh / mp, size_hsba / size_plain
        ratios_t.append(rt)
        ratios_s.append(rs)
        ratios_sa.append(size_hsba / size_pa)
        print(f"{code:26} {mh * 1000:8.0f} {mp * 1000:9.0f} {ma * 1000:8.0f} {rt:7.2f} "
              f"{size_hsba / 1024:8.1f} {size_plain / 1024:9.1f} {size_pa / 1024:8.1f} "
              f"{rs:7.2f} {size_hsba / size_pa:11.2f} {first[code] * 1000:8.0f}  "
              f"time {_verdict(rt, TIME_TARGET)}, "
              f"size {_verdict(rs, SIZE_TARGET)}")
    mt, ms = statistics.median(ratios_t), statistics.median(ratios_s)
    print(f"{'median ratio':26} {'':8} {'':9} {'':8} {mt:7.2f} "
          f"{'':8} {'':9} {'':8} {ms:7.2f} {statistics.median(ratios_sa):11.2f}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(f"target time ≤ {TIME_TARGET}x plain: {_verdict(mt, TIME_TARGET)} ({mt:.2f}x); "
          f"target size ≤ {SIZE_TARGET}x plain: {_verdict(ms, SIZE_TARGET)} ({ms:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
