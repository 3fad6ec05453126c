"""QR code leading to the document's verification page, as an inline SVG (vector, no image)."""

from __future__ import annotations

import base64
import io

import qrcode
import qrcode.image.svg


def qr_svg_data_uri(url: str) -> str:
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=1,
                       image_factory=qrcode.image.svg.SvgPathFillImage)
    qr.add_data(url)
    qr.make(fit=True)
    buf = io.BytesIO()
    qr.make_image().save(buf)
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
