"""``hsba config show``: the configuration in force, without secrets."""

from __future__ import annotations

import argparse
import json

from core.settings import get_settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("config", help="cấu hình / configuration")
    csub = p.add_subparsers(dest="config_command", required=True)
    show = csub.add_parser("show", help="print the configuration without secrets")
    show.set_defaults(func=_show)


def _show(args: argparse.Namespace) -> int:
    settings = get_settings()
    out = settings.public_dict()
    out["development_adapters"] = settings.development_adapters()
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0
