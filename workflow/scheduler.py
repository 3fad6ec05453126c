"""The in-process scheduler of the embedded default: periodic jobs (webhook
delivery, …) on one daemon thread. Production runs the same jobs from the
PostgreSQL-backed queue's workers instead."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, interval_s: float = 1.0) -> None:
        self.interval_s = interval_s
        self._jobs: list[tuple[str, Callable[[], object]]] = []
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, name: str, job: Callable[[], object]) -> None:
        self._jobs.append((name, job))

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="hsba-scheduler", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Run the jobs now (e.g. a new webhook delivery is waiting)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, job in self._jobs:
                if self._stop.is_set():
                    break
                try:
                    job()
                except Exception:
                    log.exception("scheduled job failed", extra={"job": name})
            self._wake.wait(self.interval_s)
            self._wake.clear()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
