"""``hsba pdfa check FILE...``: PASS / FAIL / NOT_CHECKED per file (exit 0 only if all PASS)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("pdfa", help="kiểm tra PDF/A / PDF/A checks")
    psub = p.add_subparsers(dest="pdfa_command", required=True)
    c = psub.add_parser("check", help="check files against PDF/A-1b, 2b, 3b")
    c.add_argument("files", nargs="+", type=Path)
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=_check)


def _check(args: argparse.Namespace) -> int:
    from templates.pdfa import check_pdfa

    missing = [str(f) for f in args.files if not f.is_file()]
    if missing:
        msg = "Không tìm thấy tệp" if args.lang == "vi" else "File not found"
        print(f"{msg}: {', '.join(missing)}")
        return 2
    results = {str(f): check_pdfa(f) for f in args.files}
    if args.json:
        print(json.dumps({k: v.to_dict() for k, v in results.items()}, ensure_ascii=False,
                         indent=2))
    else:
        for name, r in results.items():
            claim = f"PDF/A-{r.part}{(r.conformance or '').lower()}" if r.part else "no PDF/A claim"
            print(f"{r.verdict:12} {name} ({claim})")
            for f in r.failures:
                print(f"    {f.clause}: {f.message}")
            if r.verdict == "NOT_CHECKED":
                print(f"    not implemented: {', '.join(r.not_checked)}")
    return 0 if all(r.verdict == "PASS" for r in results.values()) else 1
