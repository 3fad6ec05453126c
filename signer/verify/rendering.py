"""Compare what a signed revision displays with what the final file displays.

pyHanko's difference analysis judges changes by the objects they touch; a
Shadow "replace" done through a form field's appearance passes as form
filling. Here each revision is rasterised at low resolution with poppler's
``pdftoppm`` and the pixels are compared: anything that was drawn (ink) when
the document was signed must still be drawn the same way in the final file.
New ink is allowed (a later signature's appearance, filling an empty field);
ink that disappears or changes means signed content was hidden or replaced.

Rendering happens in separate ``pdftoppm`` processes, so it can run while
pyHanko validates the signatures: :meth:`RevisionRenderer.prefetch` starts the
renderings a file will probably need on a background thread (one at a time by
default: the validation itself keeps one core busy); :meth:`RevisionRenderer.compare`
takes a prefetched rendering or renders on the spot.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Self

DPI = 36
INK = 160
"""A pixel darker than this (0-255 grey) counts as ink."""
CHANGE = 96
"""A grey-level change larger than this counts as changed."""
MIN_PIXELS = 3
"""Fewer changed ink pixels than this on a page is treated as noise."""
RENDER_MEMORY_BYTES = 512 * 1024 * 1024
"""Address space one ``pdftoppm`` process may use."""


@dataclass(frozen=True)
class Raster:
    width: int
    height: int
    pixels: bytes


@dataclass(frozen=True)
class RenderDiff:
    pages_signed: int
    pages_final: int
    changed_pages: tuple[int, ...]
    """1-based numbers of pages where signed ink disappeared or changed."""
    changed_pixels: int


def available() -> bool:
    return shutil.which("pdftoppm") is not None


def _read_pgm(path: Path) -> Raster:
    data = path.read_bytes()
    # P5\n<w> <h>\n<max>\n<bytes>; no comments in poppler output.
    parts = data.split(maxsplit=4)
    if len(parts) < 5 or parts[0] != b"P5":
        raise ValueError("unexpected pdftoppm output")
    w, h = int(parts[1]), int(parts[2])
    return Raster(w, h, parts[4][: w * h])


def rasterise(pdf: bytes, workdir: Path, name: str, timeout: float,
              running: set[subprocess.Popen[bytes]] | None = None) -> list[Raster]:
    """All pages of ``pdf`` as grey rasters (poppler ``pdftoppm``).

    ``running``: a set the process is registered in while it runs, so that an
    owner closing early can stop it."""
    src = workdir / f"{name}.pdf"
    src.write_bytes(pdf)
    prefix = workdir / name
    proc = subprocess.Popen(
        ["pdftoppm", "-r", str(DPI), "-gray", "-aa", "no", "-aaVector", "no",
         str(src), str(prefix)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    _bound(proc.pid, timeout)
    if running is not None:
        running.add(proc)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    finally:
        if running is not None:
            running.discard(proc)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, "pdftoppm", stderr=err)
    pages = sorted(workdir.glob(f"{name}-*.pgm"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    return [_read_pgm(p) for p in pages]


def _bound(pid: int, timeout: float) -> None:
    """Limit one renderer process on its own (CPU seconds, address space), so it
    stays bounded even if the verification worker that started it is killed."""
    cpu = int(timeout) + 1
    try:
        resource.prlimit(pid, resource.RLIMIT_CPU, (cpu, cpu))
        resource.prlimit(pid, resource.RLIMIT_AS, (RENDER_MEMORY_BYTES, RENDER_MEMORY_BYTES))
    except (OSError, ValueError):  # already finished, or limits lower than ours
        pass


def lost_ink(signed: Raster, final: Raster) -> int:
    """Number of pixels that were ink in ``signed`` and differ in ``final``."""
    if (signed.width, signed.height) != (final.width, final.height):
        return signed.width * signed.height
    a, b = signed.pixels, final.pixels
    if a == b:
        return 0
    count = 0
    w = signed.width
    for row in range(0, min(len(a), len(b)), w):
        ra, rb = a[row:row + w], b[row:row + w]
        if ra == rb:  # most rows are untouched: compared at C speed
            continue
        count += sum(1 for pa, pb in zip(ra, rb, strict=False)
                     if pa < INK and abs(pa - pb) > CHANGE)
    return count


def _background_workers() -> int:
    """Renderings running at once beside the validation: the cores it leaves."""
    return max(1, min(2, (os.cpu_count() or 2) - 1))


class RevisionRenderer:
    """Renders revisions of one file (each at most once), in the background
    when asked ahead of time."""

    def __init__(self, pdf: bytes, timeout: float = 10.0) -> None:
        self._pdf = pdf
        self._timeout = timeout
        self._tmp = tempfile.TemporaryDirectory(prefix="hsba-verify-")
        self._lock = threading.Lock()
        self._renders: dict[int, Future[list[Raster]]] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._running: set[subprocess.Popen[bytes]] = set()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            for proc in list(self._running):
                proc.kill()
            self._pool.shutdown(wait=True)
        self._tmp.cleanup()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _render(self, end: int) -> list[Raster]:
        name = "final" if end >= len(self._pdf) else f"rev{end}"
        return rasterise(self._pdf[:end], Path(self._tmp.name), name, self._timeout,
                         self._running)

    def _future(self, end: int, background: bool) -> Future[list[Raster]]:
        end = min(end, len(self._pdf))
        with self._lock:
            fut = self._renders.get(end)
            if fut is None:
                if background:
                    if self._pool is None:
                        self._pool = ThreadPoolExecutor(_background_workers(),
                                                        thread_name_prefix="hsba-render")
                    fut = self._pool.submit(self._render, end)
                else:
                    fut = Future()
                    fut.set_running_or_notify_cancel()
                self._renders[end] = fut
                if not background:
                    try:
                        fut.set_result(self._render(end))
                    except BaseException as e:  # noqa: BLE001 - kept for every reader of it
                        fut.set_exception(e)
        return fut

    def prefetch(self, revision_ends: Iterable[int]) -> None:
        """Start rendering the final file and these signed revisions in the
        background (the final file first: every comparison needs it)."""
        self._future(len(self._pdf), True)
        for end in revision_ends:
            self._future(end, True)

    def final(self) -> list[Raster]:
        return self._future(len(self._pdf), False).result()

    def compare(self, revision_end: int) -> RenderDiff:
        final = self.final()
        signed = self._future(revision_end, False).result()
        changed: list[int] = []
        total = 0
        for i, page in enumerate(signed):
            if i >= len(final):
                changed.append(i + 1)
                continue
            n = lost_ink(page, final[i])
            if n >= MIN_PIXELS:
                changed.append(i + 1)
                total += n
        return RenderDiff(len(signed), len(final), tuple(changed), total)
