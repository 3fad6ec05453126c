"""``hsba verify FILE...``: the verdict for each file and, per signature, who
signed, when (and how that time is proven), the PAdES level and the ETSI
indication. Exit 0 if every file is VALID or VALID_WITH_ALLOWED_CHANGES, 1
otherwise, 2 for usage errors (unreadable file, bad --at, bad --trust)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import HsbaError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("verify", help="kiểm tra chữ ký số trong tệp PDF / verify PDF signatures")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--trust", action="append", default=[], metavar="PEM",
                   help="chứng thư gốc tin cậy thêm / extra trust anchor (repeatable)")
    p.add_argument("--at", metavar="ISO-8601", help="kiểm tra tại thời điểm / validate as of this time")
    p.add_argument("--offline", action="store_true",
                   help="chỉ dùng dữ liệu trong tệp / use only validation data in the file")
    p.add_argument("--json", action="store_true", help="JSON output")
    p.add_argument("--report-pdf", metavar="OUT", help="báo cáo PDF / printable PDF report")
    p.add_argument("--etsi-xml", metavar="OUT", help="ETSI TS 119 102-2 XML report")
    p.set_defaults(func=run)


def _usage(lang: str, vi: str, en: str) -> int:
    print(en if lang == "en" else vi, file=sys.stderr)
    return 2


def _parse_at(text: str) -> datetime:
    dt = datetime.fromisoformat(text)  # Python 3.11 accepts "Z"
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _settings_trust() -> list[Any]:
    try:
        from core.settings import get_settings

        return list(get_settings().trust_pems)
    except Exception:  # noqa: BLE001 - configuration problems are reported elsewhere
        return []


def _policy_trust() -> Any:
    try:
        from policies import load_policies  # type: ignore[attr-defined]

        return getattr(load_policies(None), "trust", None)
    except Exception:  # noqa: BLE001 - the policy package is optional here
        return None


def _out_path(base: str, name: str, many: bool, suffix: str) -> Path:
    p = Path(base)
    if not many:
        return p
    return p.with_name(f"{p.stem}-{Path(name).stem}{suffix}")


def run(args: argparse.Namespace) -> int:
    lang = getattr(args, "lang", "vi")
    at = None
    if args.at:
        try:
            at = _parse_at(args.at)
        except ValueError:
            return _usage(lang, f"--at không hợp lệ: {args.at!r} (cần ISO-8601)",
                          f"invalid --at: {args.at!r} (ISO-8601 expected)")
    datas: list[tuple[str, bytes]] = []
    for name in args.files:
        try:
            datas.append((name, Path(name).read_bytes()))
        except OSError:
            return _usage(lang, f"Không đọc được tệp: {name}", f"Cannot read file: {name}")
    from signer.verify import verify_pdf
    from signer.verify.trust import load_trust_roots

    try:
        roots = load_trust_roots([*args.trust, *_settings_trust()])
    except HsbaError as e:
        return _usage(lang, e.message_vi, e.message_en)
    policy_trust = _policy_trust()
    results = []
    for name, data in datas:
        try:
            rep = verify_pdf(data, trust_roots=roots, trust_list=policy_trust, at=at,
                             offline=args.offline, lang=lang, etsi_xml=bool(args.etsi_xml))
        except Exception:  # noqa: BLE001 - trust list from policy may be odd; retry without
            rep = verify_pdf(data, trust_roots=roots, at=at, offline=args.offline, lang=lang,
                             etsi_xml=bool(args.etsi_xml))
        from dataclasses import replace

        rep = replace(rep, filename=Path(name).name)
        results.append((name, rep))
        many = len(datas) > 1
        if args.report_pdf:
            from signer.verify.report_pdf import render_report_pdf

            _out_path(args.report_pdf, name, many, ".pdf").write_bytes(render_report_pdf(rep, lang))
        if args.etsi_xml and rep.etsi_xml:
            _out_path(args.etsi_xml, name, many, ".xml").write_text(rep.etsi_xml, encoding="utf-8")
    if args.json:
        out = [dict(rep.to_dict(), file=name) for name, rep in results]
        print(json.dumps(out if len(out) > 1 else out[0], ensure_ascii=False, indent=2))
    else:
        from signer.verify.report_text import render_text

        for name, rep in results:
            print(render_text(name, rep, lang))
    return 0 if all(rep.ok for _, rep in results) else 1
