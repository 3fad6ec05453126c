"""``hsba worker``: the background jobs (webhook delivery, re-time-stamping before the
last time-stamp expires, time-stamped audit checkpoints, integrity sweeps).

Several workers may run against one PostgreSQL: each periodic job takes an advisory
lock, so only one worker runs it at a time. ``--once`` runs every job once and
prints a JSON summary (cron-friendly).
"""

from __future__ import annotations

import argparse
import json
import signal
import threading


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("worker", help="tác vụ nền / background jobs")
    p.add_argument("--once", action="store_true", help="run every job once, print a summary")
    p.add_argument("--renewal-margin-days", type=int, default=180)
    p.set_defaults(func=_worker)


def _worker(args: argparse.Namespace) -> int:
    from workflow.jobs import JobSettings, register_periodic_jobs, run_all_once
    from workflow.services import Services

    settings = JobSettings(renewal_margin_days=args.renewal_margin_days)
    services = Services.from_settings()
    try:
        if args.once:
            out = run_all_once(services, settings)
            print(json.dumps(out, ensure_ascii=False, indent=2, default=str))
            failed = any(r.get("failed") or r.get("ok") is False for r in out)
            return 1 if failed else 0
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        register_periodic_jobs(services, settings)
        services.start_background()  # webhook delivery + the jobs above, one thread
        services.scheduler.start()
        print("hsba worker: running (SIGTERM to stop)", flush=True)
        stop.wait()
        return 0
    finally:
        services.close()
