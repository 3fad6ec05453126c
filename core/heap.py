"""A signing process's heap: the garbage collector's work kept off the critical path.

Python's cyclic collector runs when allocations pass a threshold, wherever the process
is: in the middle of a render or a signature. Two kinds of collection cost hsba's
documents latency:

- **Full collections** walk every tracked object. In a warmed-up hsba process that is
  some 10^5 objects of modules, the forms' layout cache, fonts, keys, validation
  contexts and sessions, which live until the process ends: a full collection took
  0.1 s in an API process after its layout-cache warm-up and 0.3 s in a signing worker.
- **Young collections** (CPython's default: every 700 net allocations) ran some seven
  times per signed document, 10-20 ms in all, each one during CPU work.

Once a process has warmed up (the API after its layout-cache warm-up; the benchmarks'
workers), :func:`settle_after_warm_up` collects what is garbage, moves every
object alive to the permanent generation (``gc.freeze``, which collections no longer
traverse) and raises the young generation's threshold to :data:`YOUNG_THRESHOLD`
allocations. The young generation is then collected while the process has nothing
else to do: :func:`collect_while_waiting`, called when a time-stamp request has been
sent (``signer.timestamps``: each signature waits one TSA round trip, 50 ms or more).
A process that never waits for a TSA still collects automatically, every
:data:`YOUNG_THRESHOLD` allocations. Once per process: what a process holds at its
first warm-up is what lives as long as it does (a test process starting many apps
settles only once).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading

log = logging.getLogger(__name__)

__all__ = ["YOUNG_THRESHOLD", "collect_while_waiting", "settle_after_warm_up"]

YOUNG_THRESHOLD = 50_000
"""Net allocations between automatic young collections once settled (CPython: 700)."""
MIN_YOUNG = 2_000
"""Young objects below which a collection while waiting is not worth starting."""

_SETTLED = [False]
_LOCK = threading.Lock()


def settle_after_warm_up() -> int:
    """Collect garbage, freeze every object alive now and raise the young threshold
    (the first call of the process; later calls change nothing); returns how many
    objects are frozen."""
    with _LOCK:
        if not _SETTLED[0]:
            gc.collect()
            gc.freeze()
            _, older, oldest = gc.get_threshold()
            gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
            _SETTLED[0] = True
            log.info("warmed-up heap frozen: %d objects out of the collector's way",
                     gc.get_freeze_count())
    return gc.get_freeze_count()


def collect_while_waiting() -> None:
    """Collect the young generation (and the middle one when due) on the running event
    loop's next turn: called while a request is being written, so the collection runs
    once it has left, during the round trip. Does nothing before the process settled,
    with little to collect, or with the collector disabled (a locked render)."""
    if not _SETTLED[0] or not gc.isenabled():
        return
    young, middle, _ = gc.get_count()
    if young < MIN_YOUNG:
        return
    generation = 1 if middle >= gc.get_threshold()[1] else 0
    asyncio.get_running_loop().call_soon(gc.collect, generation)
