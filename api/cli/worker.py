"""``hsba worker``: the background jobs (webhook delivery, re-time-stamping before the
last time-stamp expires, time-stamped audit checkpoints, integrity sweeps).

On PostgreSQL it runs the durable queue (procrastinate, ``workflow.scheduler.
DurableQueue``): jobs deferred by any API instance or scheduled periodically, each run
by exactly one of the running workers; jobs wait in the database while no worker runs.
With a remote-signing provider configured (``HSBA_REMOTE_PROVIDER``) the queue's
workers also poll it for confirmations (``api.remote.wiring.
register_polling_on_queue``): once per tick across workers, not in every API instance.
On the embedded default (SQLite) it runs the in-process scheduler (the API process
polls the provider there). ``--once`` runs every job once (with a provider, one
polling pass too) and prints a JSON summary (cron-friendly); ``--defer JOB`` queues
one job for the workers (PostgreSQL).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from workflow.scheduler import JOBS

    p = sub.add_parser("worker", help="tác vụ nền / background jobs")
    p.add_argument("--once", action="store_true", help="run every job once, print a summary")
    p.add_argument("--defer", choices=JOBS, help="queue one job for the workers (PostgreSQL)")
    p.add_argument("--renewal-margin-days", type=int, default=180)
    p.add_argument("--concurrency", type=int, default=1,
                   help="jobs run at once by this worker (PostgreSQL queue)")
    p.add_argument("--name", default=None, help="worker name in the queue's records")
    p.set_defaults(func=_worker)


def _worker(args: argparse.Namespace) -> int:
    from workflow.jobs import JobSettings, register_periodic_jobs, run_all_once
    from workflow.services import Services

    settings = JobSettings(renewal_margin_days=args.renewal_margin_days)
    if not args.once and not args.defer:
        _stop_cleanly_while_starting()
    services = Services.from_settings()
    try:
        if args.once:
            out = run_all_once(services, settings)
            if services.settings.remote_provider != "none":  # one polling pass, any age
                from api.remote.wiring import poll_once

                out.append(poll_once(services) or {})
            print(json.dumps(out, ensure_ascii=False, indent=2, default=str))
            failed = any(r.get("failed") or r.get("ok") is False for r in out)
            return 1 if failed else 0
        queue = services.queue
        if args.defer:
            return _defer(queue, args.defer, args.lang)
        if queue is not None:
            if services.settings.remote_provider != "none":  # imported only when used
                from api.remote.wiring import register_polling_on_queue

                register_polling_on_queue(services)
                print("hsba worker: polling the remote signing provider", flush=True)
            print("hsba worker: PostgreSQL queue, running (SIGTERM to stop)", flush=True)
            queue.run_worker(services, concurrency=args.concurrency, name=args.name)
            return 0
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        register_periodic_jobs(services, settings)
        services.start_background()  # webhook delivery + the jobs above, one thread
        print("hsba worker: in-process scheduler, running (SIGTERM to stop)", flush=True)
        stop.wait()
        return 0
    finally:
        services.close()


def _stop_cleanly_while_starting() -> None:
    """SIGTERM/SIGINT before the worker loop installs its own handlers (a deployment
    scaled down, a test stopping a worker that is still starting) is a clean stop,
    exit status 0: nothing has been taken from the queue yet."""

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(0)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)


def _defer(queue: object, job: str, lang: str) -> int:
    if queue is None:
        print("Hàng đợi bền chỉ có trên PostgreSQL (HSBA_DATABASE_URL)." if lang == "vi"
              else "The durable queue needs PostgreSQL (HSBA_DATABASE_URL).", file=sys.stderr)
        return 2
    job_id = queue.defer(job)  # type: ignore[attr-defined]
    print(json.dumps({"job": job, "job_id": job_id}))
    return 0
