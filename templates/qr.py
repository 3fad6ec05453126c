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

import qrcode
import qrcode.image.svg

QUIET_ZONE = 1
"""Light modules around the code (same border in both forms)."""

PLACEHOLDER_SVG_URI = "data:image/svg+xml;base64," + base64.b64encode(
    b'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1" viewBox="0 0 1 1"/>'
).decode("ascii")
"""An empty image the render path lays out where the QR code goes (the box size comes
from the layout's CSS, ``.qr``); the code itself is drawn by :func:`qr_pdf_operators`."""


def _code(url: str) -> qrcode.QRCode:
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=QUIET_ZONE,
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
