"""QR code leading to the document's verification page (vector).

Two forms of the same code:
- :func:`qr_svg_data_uri`, an inline SVG for the HTML of a form (previews, the benchmark's
  plain render);
- :func:`qr_pdf_operators`, PDF path operators (one filled rectangle per horizontal run of
  dark modules) that the render path draws straight into the reserved box of the page, so
  WeasyPrint does not parse and draw an SVG path per render.
"""

from __future__ import annotations

import base64
import io
import re
from itertools import pairwise

import qrcode
import qrcode.image.svg

QUIET_ZONE = 1
"""Light modules around the code (same border in both forms)."""

PLACEHOLDER_SVG_URI = "data:image/svg+xml;base64," + base64.b64encode(
    b'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1" viewBox="0 0 1 1"/>'
).decode("ascii")
"""An empty image the render path lays out where the QR code goes (the box size comes
from the layout's CSS, ``.qr``); the code itself is drawn by :func:`qr_pdf_operators`."""


_RUN = re.compile(r"0{5,}|1{5,}")
_FINDER_LIKE = re.compile(r"(?=10111010000|00001011101)")


def mask_penalty(modules: list[list[bool]]) -> int:
    """ISO/IEC 18004 mask penalty (rules N1-N4), the score ``qrcode.util.lost_point`` gives,
    computed on row/column strings and bit sets instead of module by module."""
    n = len(modules)
    rows = ["".join("1" if m else "0" for m in row) for row in modules]
    lines = rows + ["".join(col) for col in zip(*rows, strict=True)]
    penalty = sum(len(run) - 2 for line in lines for run in _RUN.findall(line))  # N1
    penalty += 40 * sum(len(_FINDER_LIKE.findall(line)) for line in lines)       # N3
    bits = [int(row, 2) for row in rows]
    full = (1 << n) - 1
    for upper, lower in pairwise(bits):                                           # N2
        same_vertically = ~(upper ^ lower) & full
        same_horizontally = ~(upper ^ (upper >> 1)) & (full >> 1)
        penalty += 3 * (same_vertically & (same_vertically >> 1) & same_horizontally).bit_count()
    dark = sum(row.count("1") for row in rows)                                     # N4
    return penalty + int(abs(dark * 100 / (n * n) - 50) / 5) * 10


class _QRCode(qrcode.QRCode):
    """qrcode's encoder with the same best-mask choice, scored by :func:`mask_penalty`
    (qrcode scores each of the eight masks module by module: about 80 % of its time)."""

    def best_mask_pattern(self) -> int:
        scores = []
        for pattern in range(8):
            self.makeImpl(True, pattern)
            scores.append(mask_penalty(self.modules))
        return scores.index(min(scores))


def _code(url: str) -> qrcode.QRCode:
    qr = _QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=QUIET_ZONE,
                 image_factory=qrcode.image.svg.SvgPathFillImage)
    qr.add_data(url)
    qr.make(fit=True)
    return qr


def qr_svg_data_uri(url: str) -> str:
    buf = io.BytesIO()
    _code(url).make_image().save(buf)
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def qr_modules(url: str) -> list[list[bool]]:
    """The module matrix, quiet zone included (``True`` = dark)."""
    return [list(row) for row in _code(url).get_matrix()]


def _fmt(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def qr_pdf_operators(url: str, box: tuple[float, float, float, float]) -> bytes:
    """Content-stream operators drawing the code into ``box`` = (x1, y1, x2, y2), PDF points
    with the origin at the bottom left, black on the page (the quiet zone is left unpainted).

    The caller runs them in the page's default coordinate system (wrap the page's own
    content in ``q``/``Q`` first)."""
    matrix = qr_modules(url)
    n = len(matrix)
    x1, y1, x2, y2 = box
    side = min(x2 - x1, y2 - y1)
    module = side / n
    # Same placement as an SVG image with preserveAspectRatio "xMidYMid meet".
    left = x1 + (x2 - x1 - side) / 2
    top = y2 - (y2 - y1 - side) / 2
    ops = [f"q 0 0 0 rg {_fmt(module)} 0 0 {_fmt(-module)} {_fmt(left)} {_fmt(top)} cm"]
    for row, cells in enumerate(matrix):
        col = 0
        while col < n:
            if not cells[col]:
                col += 1
                continue
            start = col
            while col < n and cells[col]:
                col += 1
            ops.append(f"{start} {row} {col - start} 1 re")
    ops.append("f Q")
    return ("\n".join(ops) + "\n").encode("ascii")
