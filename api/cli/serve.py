"""``hsba serve [--host H] [--port P]``: the API and web pages (uvicorn).

On first run (empty database, not production) seeds the demo hospital and
prints the URL and the demo logins (development only). A broken policy file
stops it before it listens, naming the file, the line and the problem (exit 2).
"""

from __future__ import annotations

import argparse
import sys

from core.errors import HsbaError
from core.settings import get_settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("serve", help="chạy dịch vụ / run the service")
    p.add_argument("--host", default=None, help="listen address (default from settings)")
    p.add_argument("--port", type=int, default=None, help="port (default from settings)")
    p.add_argument("--no-seed", action="store_true", help="do not seed the demo hospital")
    p.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app, policy_diagnostics
    from api.middleware import configure_json_logging
    from workflow.seeding import seed_demo
    from workflow.services import Services

    settings = get_settings()
    try:
        from api.remote.wiring import provider_client

        provider_client(settings)  # a wrong remote-signing configuration stops it here
    except HsbaError as e:
        print(e.message_en if args.lang == "en" else e.message_vi, file=sys.stderr)
        return 2
    host = args.host or settings.host
    port = args.port or settings.port
    configure_json_logging()
    services = Services.from_settings(settings)
    try:
        try:
            services.policies  # noqa: B018 - loaded eagerly: a broken file stops start-up
        except HsbaError as e:
            print(policy_diagnostics(e), file=sys.stderr)
            return 2
        if settings.env != "production" and not args.no_seed:
            logins = seed_demo(services)
            _print_banner(f"http://{host}:{port}", logins, args.lang)
        app = create_app(settings, services=services)
        services.start_background()
        uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)
    finally:
        services.close()
    return 0


def _print_banner(url: str, logins: list, lang: str) -> None:  # type: ignore[type-arg]
    en = lang == "en"
    out = sys.stdout
    print("=" * 72, file=out)
    print(("hsba is running at " if en else "hsba đang chạy tại ") + url, file=out)
    print(("Demo logins (DEVELOPMENT ONLY):" if en
           else "Tài khoản demo (CHỈ DÀNH CHO PHÁT TRIỂN):"), file=out)
    for x in logins:
        line = f"  [{x.kind:6}] {x.role:18} {x.username:22} secret={x.secret}"
        if x.totp_secret:
            line += f" totp={x.totp_secret}"
        if x.signing_pin:
            line += f" pin={x.signing_pin}"
        print(line, file=out)
    print(f"  API docs: {url}/api/v1/docs", file=out)
    print("=" * 72, file=out, flush=True)
