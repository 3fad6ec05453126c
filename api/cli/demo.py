"""``hsba demo [--out DIR] [--json]``: the whole path once on the demo hospital.

Renders a surgical consent (Giấy cam đoan chấp nhận phẫu thuật, thủ thuật và
gây mê hồi sức), the doctor certifies it, the patient's handwritten
confirmation is sealed with the hospital seal, further steps of the policy
are signed, the document reaches B-LTA, every signed version is archived
(WORM, retention date) and indexed, and the result is verified offline.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from core.settings import get_settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("demo", help="chạy thử toàn bộ quy trình / run the whole path once")
    p.add_argument("--out", type=Path, default=None,
                   help="where to write the signed PDF (default {data_dir}/demo)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from workflow.demo import run_demo
    from workflow.services import Services

    settings = get_settings()
    services = Services.from_settings(settings)
    try:
        result = run_demo(services, args.out or settings.data_dir / "demo", lang=args.lang)
    finally:
        services.close()
    ok = result.verdict in ("VALID", "VALID_WITH_ALLOWED_CHANGES")
    if args.json:
        print(json.dumps({
            "document_id": result.document_id,
            "pdf": str(result.pdf_path.resolve()),
            "sha256": result.sha256,
            "object_key": result.object_key,
            "retention_class": result.retention_class,
            "retain_until": result.retain_until,
            "versions": list(result.versions),
            "verification": result.verification,
        }, ensure_ascii=False, indent=2, default=str))
        return 0 if ok else 1
    en = args.lang == "en"
    v = result.verification
    print(("Signed document: " if en else "Tài liệu đã ký: ") + str(result.pdf_path.resolve()))
    print(("Archived as: " if en else "Lưu trữ tại: ") + result.object_key)
    print(("Retention: " if en else "Thời hạn lưu trữ: ")
          + f"{result.retention_class} → {result.retain_until or 'vĩnh viễn / permanent'}")
    print(("Versions: " if en else "Các phiên bản: ")
          + ", ".join(f"v{x['version']} ({x['reason']})" for x in result.versions))
    print(("Verification: " if en else "Kiểm tra: ") + f"{v.get('verdict')} — "
          + str(v.get("message_en" if en else "message_vi", "")))
    for sig in v.get("signatures", []):
        print(f"  - {sig.get('field_name')}: {sig.get('signer')} | {sig.get('level')} | "
              f"{sig.get('indication')}"
              + (f"/{sig.get('subindication')}" if sig.get("subindication") else "")
              + f" | {sig.get('signing_time')} ({sig.get('time_source')})")
    return 0 if ok else 1
