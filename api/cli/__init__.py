"""The ``hsba`` command.

Each sub-command lives in its own module of this package and exposes
``register(subparsers) -> None``, which adds its parser(s) and sets
``func=handler`` with ``handler(args) -> int``. Modules are discovered here, so
adding a command never edits this file.

Exit codes: 0 success, 1 a negative result (e.g. a signature not valid),
2 usage or input error. Never a Python traceback for a person.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

from core.errors import HsbaError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hsba",
        description="hsba: ký số và lưu trữ hồ sơ bệnh án điện tử / "
        "signing and archival of the electronic medical record",
    )
    parser.add_argument("--lang", choices=["vi", "en"], default="vi",
                        help="ngôn ngữ thông báo / message language (default vi)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    argv = list(sys.argv[1:] if argv is None else argv)
    lang = "vi"
    # --lang may appear anywhere on the line (``hsba verify f.pdf --lang en``).
    for i, a in enumerate(list(argv)):
        if a == "--lang" and i + 1 < len(argv):
            lang = argv[i + 1]
            del argv[i : i + 2]
            break
        if a.startswith("--lang="):
            lang = a.split("=", 1)[1]
            del argv[i]
            break
    parser = build_parser()
    args = parser.parse_args(argv)
    args.lang = lang if lang in ("vi", "en") else "vi"
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except HsbaError as e:
        print(e.diagnostics(getattr(args, "lang", "vi")), file=sys.stderr)
        return 2 if e.kind in ("invalid_input", "configuration", "not_found") else 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
