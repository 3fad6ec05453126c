"""The polling job of app-confirmed remote signing: ask the provider about every
transaction that has waited longer than the webhook should have taken, and settle it.

- :func:`poll_provider`: one pass (synchronous: a scheduler thread or a queue
  worker has no event loop of its own).
- :class:`PollingJob`: a callable for ``Services.scheduler.add(name, job)`` — the
  in-process scheduler calls its jobs every second; the job makes a pass at most
  every ``every_s`` seconds. On PostgreSQL a queue worker can call
  :func:`poll_provider` from a periodic task instead.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import timedelta

from hsm.remote.async_provider import AppConfirmedSigning
from hsm.remote.pending import Outcome

__all__ = ["PollingJob", "poll_provider"]

log = logging.getLogger("hsba.remote")


def poll_provider(signing: AppConfirmedSigning, *, older_than_s: float = 30) -> list[Outcome]:
    """Ask the provider about every transaction pending for more than ``older_than_s``
    seconds (younger ones are left to the webhook) and settle them."""
    outcomes = asyncio.run(signing.poll_pending(timedelta(seconds=older_than_s)))
    settled = [o for o in outcomes if o.settled_now]
    if settled:
        log.info("remote signing polled", extra={
            "settled": len(settled), "still_pending": len(outcomes) - len(settled)})
    return outcomes


class PollingJob:
    """:func:`poll_provider` at most every ``every_s`` seconds, one pass at a time."""

    def __init__(self, signing: AppConfirmedSigning, *, older_than_s: float = 60,
                 every_s: float = 30) -> None:
        self.signing = signing
        self.older_than_s = older_than_s
        self.every_s = every_s
        self._last = float("-inf")
        self._lock = threading.Lock()

    def __call__(self) -> list[Outcome]:
        if not self._lock.acquire(blocking=False):
            return []
        try:
            now = time.monotonic()
            if now - self._last < self.every_s:
                return []
            self._last = now
            return poll_provider(self.signing, older_than_s=self.older_than_s)
        finally:
            self._lock.release()
