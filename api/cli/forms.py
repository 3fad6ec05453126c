"""``hsba forms list|render``: the clinical form catalogue and rendering to PDF/A-3b."""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from dataclasses import asdict
from pathlib import Path

from core.errors import InvalidInput
from core.settings import get_settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("forms", help="biểu mẫu / clinical forms")
    fsub = p.add_subparsers(dest="forms_command", required=True)
    ls = fsub.add_parser("list", help="list the forms and their signature fields")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_list)
    r = fsub.add_parser("render", help="render a form to PDF/A-3b")
    r.add_argument("form")
    src = r.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", type=Path, help="form data (JSON file)")
    src.add_argument("--sample", action="store_true", help="use the form's sample data")
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--version", default=None)
    r.add_argument("--document-id", default=None)
    r.add_argument("--preview-png", type=Path, default=None)
    r.set_defaults(func=_render)


def _list(args: argparse.Namespace) -> int:
    from templates.catalogue import list_forms

    forms = list_forms()
    if args.json:
        print(json.dumps([asdict(f) for f in forms], ensure_ascii=False, indent=2))
        return 0
    for f in forms:
        title = f.title_en if args.lang == "en" else f.title_vi
        ms = f" (MS: {f.form_number})" if f.form_number else ""
        print(f"{f.code:26} {f.version:4} {title}{ms}  [{', '.join(f.signature_fields)}]")
    return 0


def _render(args: argparse.Namespace) -> int:
    from templates.render import render_form, sample_data

    if args.sample:
        data = sample_data(args.form, args.version)
    else:
        try:
            data = json.loads(args.data.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise InvalidInput("form.bad_json", f"Không đọc được tệp dữ liệu: {e}",
                               f"Cannot read the data file: {e}") from e
    document_id = args.document_id or f"DEV-{uuid.uuid4()}"
    verify_url = f"{get_settings().base_url.rstrip('/')}/verify/{document_id}"
    rendered = render_form(args.form, data, document_id=document_id, verify_url=verify_url,
                           version=args.version)
    args.out.write_bytes(rendered.pdf)
    if args.preview_png:
        from templates.preview import page_png

        args.preview_png.write_bytes(page_png(rendered.pdf, 0, 96))
    print(json.dumps({"out": str(args.out), "form": rendered.form_code,
                      "version": rendered.form_version, "document_id": document_id,
                      "data_sha256": rendered.data_sha256, "bytes": len(rendered.pdf),
                      "signature_fields": [asdict(s) for s in rendered.signature_fields]},
                     ensure_ascii=False), file=sys.stdout)
    return 0
