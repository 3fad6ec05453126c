"""The visible appearance of a signature: name, role, date and time, method.

Text is set in DejaVu Sans (embedded, subset) so Vietnamese renders and the
file stays PDF/A; a patient's handwritten image is drawn behind the text.
Dates follow Vietnamese usage: "ngày 27 tháng 11 năm 2026, 14:05 (GMT+7)".
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.layout import AxisAlignment, Margins, SimpleBoxLayoutRule
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.stamp import TextStampStyle

from core.errors import InvalidInput
from signer.request import METHOD_LABELS, SignRequest

__all__ = ["FONT_FILE", "VN_TZ", "appearance_text", "stamp_style", "vn_datetime"]

FONT_FILE = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def vn_datetime(when: datetime) -> str:
    """``ngày 27 tháng 11 năm 2026, 14:05`` in Asia/Ho_Chi_Minh time."""
    local = when.astimezone(VN_TZ)
    return f"ngày {local.day:02d} tháng {local.month:02d} năm {local.year}, {local:%H:%M} (GMT+7)"


def appearance_text(request: SignRequest, when: datetime) -> str:
    """The lines shown in the signature box."""
    method_vi, _ = METHOD_LABELS.get(request.method, (request.method, request.method))
    lines = [request.signer_name]
    if request.role:
        lines.append(request.role)
    lines.append(f"Ký {vn_datetime(when)}")
    lines.append(method_vi)
    lines.extend(request.appearance_lines)
    return "\n".join(line.replace("\r", " ") for line in lines)


def stamp_style(request: SignRequest) -> TextStampStyle:
    """A pyHanko text stamp in an embedded Vietnamese-capable font."""
    background = None
    if request.handwritten_png:
        from PIL import Image, UnidentifiedImageError

        try:
            image: Image.Image = Image.open(io.BytesIO(request.handwritten_png))
            image.load()
        except (UnidentifiedImageError, OSError) as e:
            raise InvalidInput(
                "sign.bad_handwritten_image",
                "Ảnh chữ ký tay không đọc được (cần PNG).",
                "The handwritten signature image cannot be read (PNG expected).",
            ) from e
        if image.mode not in ("RGB", "L"):
            # flatten onto white: no soft mask, nothing PDF/A could object to
            flat = Image.new("RGB", image.size, (255, 255, 255))
            flat.paste(image, mask=image.convert("RGBA").split()[-1])
            image = flat
        background = PdfImage(image)
    return TextStampStyle(
        stamp_text="%(body)s",
        text_box_style=TextBoxStyle(
            font=GlyphAccumulatorFactory(str(FONT_FILE), font_size=7),
            font_size=7,
        ),
        border_width=1,
        background=background,
        background_opacity=1.0 if background is not None else 0.6,
        background_layout=SimpleBoxLayoutRule(
            x_align=AxisAlignment.ALIGN_MID,
            y_align=AxisAlignment.ALIGN_MID,
            margins=Margins.uniform(2),  # type: ignore[no-untyped-call]
        ),
    )
