"""``hsba audit verify|who-viewed|checkpoint``: the hash-chained audit log."""

from __future__ import annotations

import argparse
import json

from core.settings import get_settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("audit", help="nhật ký kiểm toán / audit chain")
    asub = p.add_subparsers(dest="audit_command", required=True)
    v = asub.add_parser("verify", help="recompute the chain and compare with WORM checkpoints")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=_verify)
    w = asub.add_parser("who-viewed", help="who viewed, printed or exported a document, and when")
    w.add_argument("document_id")
    w.add_argument("--json", action="store_true")
    w.set_defaults(func=_who_viewed)
    c = asub.add_parser("checkpoint", help="write the chain head as a WORM object (no timestamp)")
    c.set_defaults(func=_checkpoint)


def _verify(args: argparse.Namespace) -> int:
    from archive import open_archive

    a = open_archive(get_settings())
    report = a.audit.verify(a.store)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        vi = args.lang != "en"
        print(f"{'Số bản ghi' if vi else 'Entries'}: {report.entries}; "
              f"{'điểm kiểm tra' if vi else 'checkpoints'}: {report.checkpoints_checked}")
        for p in report.problems:
            print(f"  seq {p.seq} [{p.kind}] {p.message_vi if vi else p.message_en}")
        print(("KẾT QUẢ: CHUỖI NGUYÊN VẸN" if vi else "RESULT: CHAIN INTACT") if report.ok
              else ("KẾT QUẢ: CHUỖI BỊ SỬA ĐỔI" if vi else "RESULT: CHAIN TAMPERED"))
    return 0 if report.ok else 1


def _who_viewed(args: argparse.Namespace) -> int:
    from archive import open_archive

    rows = open_archive(get_settings()).audit.who_viewed(args.document_id)
    if args.json:
        print(json.dumps({"document_id": args.document_id, "views": [
            {"at": r.at.isoformat(), "actor_id": r.actor_id, "action": r.action,
             "tenant": r.tenant_id} for r in rows]}, ensure_ascii=False, indent=2))
    else:
        from zoneinfo import ZoneInfo

        tz = ZoneInfo("Asia/Ho_Chi_Minh")
        for r in rows:
            print(f"{r.at.astimezone(tz):%Y-%m-%d %H:%M:%S}\t{r.actor_id}\t{r.action}")
        if not rows:
            print("-")
    return 0


def _checkpoint(args: argparse.Namespace) -> int:
    from archive import open_archive

    a = open_archive(get_settings())
    cp = a.audit.checkpoint(a.store)
    print(cp.object_key if cp else "-")
    return 0
