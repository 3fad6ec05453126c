"""``hsba trust update [--source-url URL] [--dir DIR]`` and ``hsba trust list [--json]``.

Certificates are installed in ``{data_dir}/trust`` (or ``--store``) only when their
SHA-256 fingerprint is listed in the trust policy.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("trust", help="danh sách tin cậy / trust lists")
    tsub = p.add_subparsers(dest="trust_command", required=True)
    up = tsub.add_parser("update", help="fetch CA certificates; install those the policy lists")
    src = up.add_mutually_exclusive_group()
    src.add_argument("--source-url", default=None, help="one URL (PEM, DER or .p7b)")
    src.add_argument("--dir", default=None, type=Path,
                     help="offline: a local directory of certificate files")
    up.add_argument("--store", default=None, type=Path,
                    help="where to install (default {data_dir}/trust)")
    up.add_argument("--policies", default=None, help="hospital policy directory")
    up.add_argument("--json", action="store_true")
    up.set_defaults(func=_update)
    ls = tsub.add_parser("list", help="trust anchors of the policy and whether installed")
    ls.add_argument("--store", default=None, type=Path)
    ls.add_argument("--policies", default=None)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_list)


def _store(args: argparse.Namespace) -> Path:
    from policies.trust import default_store_dir

    return args.store if args.store is not None else default_store_dir()


def _update(args: argparse.Namespace) -> int:
    from policies import load_policies
    from policies.trust_update import update_trust_store

    ps = load_policies(args.policies)
    report = update_trust_store(ps.trust, _store(args), source_url=args.source_url,
                                source_dir=args.dir)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        return 0 if report.ok else 1
    en = args.lang == "en"
    for a in report.accepted:
        print(f"{'installed' if en else 'đã cài'}  {a.anchor_id}  {a.sha256}")
    for s in report.skipped:
        print(f"{'skipped' if en else 'bỏ qua'}   {s.origin}: {s.reason_en if en else s.reason_vi}")
    for r in report.rejected:
        fp = f" sha256={r.sha256}" if r.sha256 else ""
        print(f"{'REJECTED' if en else 'TỪ CHỐI'}  {r.origin}:{fp} "
              f"{r.reason_en if en else r.reason_vi}")
    return 0 if report.ok else 1


def _list(args: argparse.Namespace) -> int:
    from policies import load_policies

    ps = load_policies(args.policies)
    installed = {a.id for a, _c in ps.trust.installed(_store(args))}
    rows = [{
        "id": a.id, "name": a.name, "sha256": a.sha256, "role": a.role, "list": a.list,
        "purposes": list(a.purposes), "enabled": a.enabled, "installed": a.id in installed,
        "source_url": a.source_url,
    } for a in ps.trust.anchors]
    if args.json:
        print(json.dumps({"policy_set_version": ps.version, "anchors": rows},
                         ensure_ascii=False, indent=2))
        return 0
    for r in rows:
        state = ("installed" if r["installed"] else "missing") if r["enabled"] else "disabled"
        print(f"{r['id']:32} {r['list']:9} {r['role']:12} {state:9} {r['sha256']}")
    return 0
