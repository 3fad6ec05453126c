"""``hsba policies check [DIR]`` and ``hsba policies explain --form FORM [--json]``."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from core.errors import PolicyError

if TYPE_CHECKING:
    from policies import PolicySet
    from policies.source import Problem


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("policies", help="chính sách ký, lưu trữ, truy cập / policies")
    psub = p.add_subparsers(dest="policies_command", required=True)
    check = psub.add_parser("check", help="validate a policy directory (over the defaults)")
    check.add_argument("directory", nargs="?", default=None,
                       help="hospital policy directory (default: settings.policies_dir)")
    check.set_defaults(func=_check)
    explain = psub.add_parser("explain", help="who signs a form, how, and how long it is kept")
    explain.add_argument("--form", required=True, help="form code, e.g. discharge_paper")
    explain.add_argument("--form-version", default=None)
    explain.add_argument("--dir", default=None, help="hospital policy directory")
    explain.add_argument("--json", action="store_true")
    explain.set_defaults(func=_explain)


def _check(args: argparse.Namespace) -> int:
    from policies import load_policies

    try:
        ps = load_policies(args.directory)
    except PolicyError as e:
        en = args.lang == "en"
        if e.code != "policy.invalid_file":
            print(e.message(args.lang))
            return 1
        for d in e.details:
            msg = d["message_en"] if en else d["message_vi"]
            where = f"{d['path']}: " if d["path"] else ""
            print(f"{d['file']}:{d['line']}: {where}{msg}")
        return 1
    mismatches = _form_field_problems(ps)
    for prob in mismatches:
        print(prob.render(args.lang))
    if mismatches:
        return 1
    label = "OK" if args.lang == "en" else "Hợp lệ"
    print(f"{label}: {len(ps.files)} files, {ps.version}")
    for f in ps.files:
        print(f"  {f.origin:8} {f.identity:40} v{f.version:10} {f.source}")
    return 0


def _form_field_problems(ps: PolicySet) -> list[Problem]:
    """Every signer of every form in the catalogue has a signature field on it."""
    from policies.form_fields import check_form_fields
    from templates.catalogue import form_codes, load_form, versions

    forms: dict[tuple[str, str], tuple[str, ...]] = {}
    for code in form_codes():
        for version in versions(code):
            forms[(code, version)] = load_form(code, version).info.signature_fields
    return check_form_fields(ps, forms)


def _explain(args: argparse.Namespace) -> int:
    from policies import load_policies
    from policies.explain import explain_form, render_text

    info = explain_form(load_policies(args.dir), args.form, args.form_version)
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=2))
        return 0
    first, second = ("en", "vi") if args.lang == "en" else ("vi", "en")
    print(render_text(info, first))
    print()
    print(render_text(info, second))
    return 0
