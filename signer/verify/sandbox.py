"""Run each file's verification in a separate, bounded process.

A hostile PDF (reference loops, decompression bombs, fuzzed structures) must
end in PARSE_ERROR or INVALID with a clear message, never take the service
down. Files go to a small pool of worker processes (``spawn``; pyHanko imported
once per worker). Each worker runs with ``RLIMIT_AS`` = its start-up size +
512 MB and 10 s of CPU per file (``RLIMIT_CPU``; a wall-clock backstop of 30 s
covers a file that blocks); a file over either limit gets its worker killed and replaced,
and one that exhausts memory ends its worker the same way. A new worker first
reports "ready" (imports done, limits set): its start-up never counts against a file.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import resource
import signal
import threading
import time
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

from signer.verify.model import VerificationReport

log = logging.getLogger(__name__)

TIME_LIMIT_S = 10.0
"""CPU seconds one file may use (the worker's own CPU, enforced with RLIMIT_CPU)."""
WALL_FACTOR = 3.0
"""Wall-clock backstop = WALL_FACTOR × TIME_LIMIT_S: on a busy machine a legitimate
file gets its CPU time, a file blocked on anything else is still stopped."""
MEMORY_LIMIT_BYTES = 512 * 1024 * 1024
MAX_TASKS_PER_WORKER = 200
STARTUP_LIMIT_S = 60.0
"""Wall-clock limit for a new worker's start-up (importing pyHanko), before any file."""
_ctx: Any = None
_idle: list[_Worker] = []
_lock = threading.Lock()


def _vsize() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def _serve(conn: Connection, memory_limit: int) -> None:
    """Worker loop: pyHanko imported once, address space capped, one file at a time."""
    logging.disable(logging.CRITICAL)  # pyHanko logs tracebacks for hostile input
    from asn1crypto import x509

    from signer.verify.engine import analyse

    try:
        limit = _vsize() + memory_limit
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError):
        pass
    conn.send(("ready", None, None))  # start-up (imports) never counts against a file's limits
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        pdf, roots_der, at, offline, lang, want_etsi, cpu_limit = task
        try:
            ru = resource.getrusage(resource.RUSAGE_SELF)
            soft = int(ru.ru_utime + ru.ru_stime + cpu_limit) + 1
            resource.setrlimit(resource.RLIMIT_CPU, (soft, resource.RLIM_INFINITY))
        except (ValueError, OSError):
            pass
        try:
            roots = [x509.Certificate.load(d) for d in roots_der]
            rep = analyse(pdf, trust_roots=roots, at=at, offline=offline, lang=lang,
                          want_etsi=want_etsi)
            conn.send(("ok", rep.to_dict(), rep.etsi_xml))
        except MemoryError:
            conn.send(("memory", None, None))
            return
        except BaseException as e:  # noqa: BLE001 - the boundary: nothing escapes
            conn.send(("error", f"{type(e).__name__}: {str(e)[:300]}", None))


class _Worker:
    def __init__(self, memory_limit: int) -> None:
        global _ctx
        if _ctx is None:
            _ctx = mp.get_context("spawn")
        self.conn, child = _ctx.Pipe(duplex=True)
        self.proc = _ctx.Process(target=_serve, args=(child, memory_limit), daemon=True,
                                 name="hsba-verify-worker")
        self.proc.start()
        child.close()
        self.tasks = 0
        self.ready = False
        self.memory_limit = memory_limit

    def wait_ready(self, timeout: float = STARTUP_LIMIT_S) -> bool:
        """Wait for the worker's start-up message (imports done, limits set)."""
        if self.ready:
            return True
        try:
            if self.conn.poll(timeout) and self.conn.recv()[0] == "ready":
                self.ready = True
        except (EOFError, OSError):
            pass
        return self.ready

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(2)
        self.conn.close()


def _acquire(memory_limit: int) -> _Worker:
    with _lock:
        while _idle:
            w = _idle.pop()
            if w.proc.is_alive() and w.memory_limit == memory_limit:
                return w
            w.kill()
    return _Worker(memory_limit)


def _release(w: _Worker) -> None:
    if w.tasks >= MAX_TASKS_PER_WORKER or not w.proc.is_alive():
        w.kill()
        return
    with _lock:
        _idle.append(w)


def warm_up(workers: int = 1) -> None:
    """Start worker processes ahead of the first file (service start-up)."""
    ws = [_acquire(MEMORY_LIMIT_BYTES) for _ in range(workers)]
    for w in ws:
        w.wait_ready()
        _release(w)


def shutdown() -> None:
    with _lock:
        while _idle:
            _idle.pop().kill()


def run_bounded(pdf: bytes, *, roots_der: list[bytes], at: datetime | None, offline: bool,
                lang: str, want_etsi: bool = False, time_limit: float = TIME_LIMIT_S,
                memory_limit: int = MEMORY_LIMIT_BYTES) -> VerificationReport:
    """Verify ``pdf`` in a worker process with time and memory limits."""
    from signer.verify.engine import parse_error

    w = _acquire(memory_limit)
    code = None
    try:
        if not w.wait_ready():
            raise OSError("verification worker did not start")
        budget = time_limit * WALL_FACTOR
        started = time.monotonic()
        w.conn.send((pdf, roots_der, at, offline, lang, want_etsi, time_limit))
        w.tasks += 1
        if w.conn.poll(budget):
            kind, payload, extra = w.conn.recv()
            if time.monotonic() - started > budget:
                # answered, but after the file's wall-clock budget (this process was
                # descheduled while waiting): as late as no answer, whatever it says
                kind, payload, extra = "timeout", None, None
        else:
            kind, payload, extra = "timeout", None, None
    except (EOFError, OSError):
        kind, payload, extra = "crash", None, None
    if kind in ("ok", "error"):
        _release(w)
    else:
        w.kill()
        code = w.proc.exitcode
        if code == -signal.SIGXCPU:
            kind = "timeout"
    if kind == "ok":
        rep = VerificationReport.from_dict(payload)
        if extra:
            from dataclasses import replace
            rep = replace(rep, etsi_xml=extra)
        return rep
    if kind == "timeout":
        return parse_error(pdf, f"Quá thời gian xử lý {time_limit:.0f} giây (có thể là tệp độc hại: vòng lặp, bom nén).",
                           f"Processing took longer than {time_limit:.0f} s (possibly hostile: loops, compression bomb).",
                           lang, offline=offline)
    if kind == "memory":
        return parse_error(pdf, f"Vượt giới hạn bộ nhớ {memory_limit // 2**20} MB (có thể là bom nén).",
                           f"Over the {memory_limit // 2**20} MB memory limit (possibly a compression bomb).",
                           lang, offline=offline)
    if kind == "crash":
        return parse_error(pdf, f"Tiến trình kiểm tra dừng bất thường (mã {code}).",
                           f"The verification worker stopped abnormally (code {code}).",
                           lang, offline=offline)
    log.warning("verification worker error: %s", payload)
    return parse_error(pdf, f"Lỗi khi đọc tệp: {payload}", f"Error while reading the file: {payload}",
                       lang, offline=offline)
