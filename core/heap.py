"""The long-lived part of a server process's heap, kept out of the garbage collector's way.

Python's cyclic collector runs a full collection (every tracked object of the process)
once enough objects have survived into the oldest generation. In a warmed-up hsba
process that is some 10^5 objects of modules, the forms' layout cache, fonts, keys,
validation contexts and sessions, which live until the process ends: a full collection
took 0.1 s in an API process after its layout-cache warm-up and 0.3 s in a signing
worker, stalling whichever request was running when it came.

:func:`freeze_long_lived` is called once a process has warmed up (the API after its
layout-cache warm-up, ``hsba worker`` when it starts): it collects what is garbage, then
moves every object alive to the permanent generation (``gc.freeze``), which collections
no longer traverse. Objects made later (each request's documents, signatures, rows) are
collected as before. Once per process: what a process holds at its first warm-up is
what lives as long as it does (a test process starting many apps freezes only once).
"""

from __future__ import annotations

import gc
import logging
import threading

log = logging.getLogger(__name__)

__all__ = ["freeze_long_lived"]

_FROZEN = [False]
_LOCK = threading.Lock()


def freeze_long_lived() -> int:
    """Collect garbage, then freeze every object alive now (the first call of the
    process; later calls change nothing); returns how many objects are frozen."""
    with _LOCK:
        if not _FROZEN[0]:
            gc.collect()
            gc.freeze()
            _FROZEN[0] = True
            log.info("long-lived heap frozen: %d objects out of the collector's way",
                     gc.get_freeze_count())
    return gc.get_freeze_count()
