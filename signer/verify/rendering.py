"""Compare what a signed revision displays with what the final file displays.

pyHanko's difference analysis judges changes by the objects they touch; a
Shadow "replace" done through a form field's appearance passes as form
filling. Here each revision is rasterised at low resolution with poppler's
``pdftoppm`` and the pixels are compared: anything that was drawn (ink) when
the document was signed must still be drawn the same way in the final file.
New ink is allowed (a later signature's appearance, filling an empty field);
ink that disappears or changes means signed content was hidden or replaced.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
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


def rasterise(pdf: bytes, workdir: Path, name: str, timeout: float) -> list[Raster]:
    """All pages of ``pdf`` as grey rasters (poppler ``pdftoppm``)."""
    src = workdir / f"{name}.pdf"
    src.write_bytes(pdf)
    prefix = workdir / name
    subprocess.run(
        ["pdftoppm", "-r", str(DPI), "-gray", "-aa", "no", "-aaVector", "no",
         str(src), str(prefix)],
        check=True, timeout=timeout, capture_output=True,
    )
    pages = sorted(workdir.glob(f"{name}-*.pgm"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    return [_read_pgm(p) for p in pages]


def lost_ink(signed: Raster, final: Raster) -> int:
    """Number of pixels that were ink in ``signed`` and differ in ``final``."""
    if (signed.width, signed.height) != (final.width, final.height):
        return signed.width * signed.height
    a, b = signed.pixels, final.pixels
    if a == b:
        return 0
    count = 0
    for i in range(min(len(a), len(b))):
        pa = a[i]
        if pa < INK and abs(pa - b[i]) > CHANGE:
            count += 1
    return count


class RevisionRenderer:
    """Renders revisions of one file, caching the final rendering."""

    def __init__(self, pdf: bytes, timeout: float = 10.0) -> None:
        self._pdf = pdf
        self._timeout = timeout
        self._tmp = tempfile.TemporaryDirectory(prefix="hsba-verify-")
        self._final: list[Raster] | None = None

    def close(self) -> None:
        self._tmp.cleanup()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def final(self) -> list[Raster]:
        if self._final is None:
            self._final = rasterise(self._pdf, Path(self._tmp.name), "final", self._timeout)
        return self._final

    def compare(self, revision_end: int) -> RenderDiff:
        signed = rasterise(self._pdf[:revision_end], Path(self._tmp.name),
                           f"rev{revision_end}", self._timeout)
        final = self.final()
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
