"""``hsba archive check|reconcile|restore|expiry``: archive integrity and repair."""

from __future__ import annotations

import argparse
import json
from typing import Any

from core.errors import ConfigurationError
from core.settings import get_settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("archive", help="kho lưu trữ / archive integrity and repair")
    asub = p.add_subparsers(dest="archive_command", required=True)
    c = asub.add_parser("check", help="re-hash stored objects against the records index")
    c.add_argument("--json", action="store_true")
    c.add_argument("--no-rehash", action="store_true", help="existence only, no content read")
    c.set_defaults(func=_check)
    r = asub.add_parser("reconcile", help="finish or drop ingests interrupted by a crash")
    r.add_argument("--json", action="store_true")
    r.add_argument("--min-age", type=float, default=300.0,
                   help="seconds before an intent without object counts as abandoned")
    r.set_defaults(func=_reconcile)
    s = asub.add_parser("restore", help="rebuild the primary store from the replica")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_restore)
    e = asub.add_parser("expiry", help="records past their retention date (TT 33/2025)")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=_expiry)


def _out(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str) if args.json else text)


def _check(args: argparse.Namespace) -> int:
    from archive import open_archive
    from archive.integrity import check_archive

    a = open_archive(get_settings())
    with a.index.sessions() as s:
        from sqlalchemy import select

        from archive.models import PendingIngest

        pending = set(s.execute(select(PendingIngest.object_key)).scalars())
    report = check_archive(a.index, a.store, rehash=not args.no_rehash, pending_keys=pending)
    vi = args.lang != "en"
    lines = [f"{'Đã kiểm tra' if vi else 'Checked'}: {report.checked}",
             f"{'Thiếu' if vi else 'Missing'}: {len(report.missing)}",
             f"{'Sai mã băm' if vi else 'Mismatched'}: {len(report.mismatched)}",
             f"{'Thừa' if vi else 'Extra'}: {len(report.extra)}",
             (f"{'Bị ghi đè (phiên bản mới hơn)' if vi else 'Overwritten (newer version)'}: "
              f"{len(report.overwritten)}")]
    lines += [f"  missing {k}" for k in report.missing]
    lines += [f"  mismatched {k}" for k in report.mismatched]
    lines += [f"  extra {k}" for k in report.extra]
    lines += [f"  overwritten {k}" for k in report.overwritten]
    lines.append(("KẾT QUẢ: TOÀN VẸN" if vi else "RESULT: INTACT") if report.ok
                 else ("KẾT QUẢ: CÓ SAI LỆCH" if vi else "RESULT: PROBLEMS FOUND"))
    _out(args, report.to_dict(), "\n".join(lines))
    return 0 if report.ok else 1


def _reconcile(args: argparse.Namespace) -> int:
    from archive import open_archive
    from archive.ingest import reconcile

    report = reconcile(open_archive(get_settings()), min_age_s=args.min_age)
    vi = args.lang != "en"
    _out(args, report.to_dict(),
         f"{'Hoàn tất' if vi else 'Completed'}: {len(report.completed)}\n"
         f"{'Bỏ (chưa từng xác nhận)' if vi else 'Dropped (never acknowledged)'}: "
         f"{len(report.abandoned)}")
    return 0


def _restore(args: argparse.Namespace) -> int:
    from archive import open_replica, open_store
    from archive.replica import restore

    settings = get_settings()
    replica = open_replica(settings)
    if replica is None:
        raise ConfigurationError("archive.no_replica",
                                 "Chưa cấu hình bản sao (HSBA_REPLICA_STORE).",
                                 "No replica store configured (HSBA_REPLICA_STORE).")
    report = restore(open_store(settings, with_replica=False), replica)
    vi = args.lang != "en"
    _out(args, report.to_dict(),
         f"{'Đã chép' if vi else 'Copied'}: {len(report.copied)}; "
         f"{'đã có' if vi else 'already present'}: {report.already_present}; "
         f"{'hỏng ở kho chính' if vi else 'damaged in primary'}: "
         f"{len(report.damaged_in_primary)}; {'lỗi' if vi else 'failed'}: {len(report.failed)}")
    return 0 if not report.failed and not report.damaged_in_primary else 1


def _expiry(args: argparse.Namespace) -> int:
    from archive import open_archive
    from archive.lifecycle import RecordLifecycle

    rows = RecordLifecycle(open_archive(get_settings())).expiry_report()
    data = {"expired": [{"document_id": r.document_id, "tenant": r.tenant_id,
                         "retention_class": r.retention_class,
                         "retain_until": r.retain_until.isoformat()} for r in rows]}
    _out(args, data, "\n".join(f"{r.document_id}\t{r.retention_class}\t{r.retain_until}"
                               for r in rows) or "-")
    return 0
