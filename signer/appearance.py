"""The visible appearance of a signature: name, role, date and time, method.

Text is set in the form's own regular font when it has every character drawn
(``signer.page_font``: nothing embedded), else in DejaVu Sans cut to the glyphs
drawn (embedded), so Vietnamese renders and the file stays PDF/A; a patient's
handwritten image is drawn behind the text.
Dates follow Vietnamese usage: "ngày 27 tháng 11 năm 2026, 14:05 (GMT+7)".
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.font.api import FontEngine, ShapeResult
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.layout import AxisAlignment, Margins, SimpleBoxLayoutRule
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.stamp import TextStampStyle

from core.errors import InvalidInput
from signer.page_font import PageFontEngine, find_page_font
from signer.request import METHOD_LABELS, SignRequest

__all__ = [
    "FONT_FILE",
    "VN_TZ",
    "VietnameseFontFactory",
    "appearance_font_program",
    "appearance_text",
    "stamp_style",
    "vietnamese_font",
    "vn_datetime",
]

FONT_FILE = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


# ASCII, the Vietnamese letters (Latin-1 vowels with accents, ă đ ĩ ũ ơ ư, the
# Vietnamese block), no-break space, ° · × and the punctuation a name or a date may use, ₫
_UNICODES = [*range(0x20, 0x7F), 0xA0, 0xB0, 0xB7, 0xD7,
             *(ord(c) for c in "ÀÁÂÃÈÉÊÌÍÒÓÔÕÙÚÝàáâãèéêìíòóôõùúý"),
             0x102, 0x103, 0x110, 0x111, 0x128, 0x129, 0x168, 0x169, 0x1A0, 0x1A1, 0x1AF,
             0x1B0, *range(0x1EA0, 0x1EFA), 0x2013, 0x2014, 0x2018, 0x2019, 0x201C, 0x201D,
             0x2026, 0x20AB]


@lru_cache(maxsize=1)
def vietnamese_font() -> bytes:
    """DejaVu Sans cut down once to the glyphs Vietnamese text needs (~270), then
    scaled to 1000 units per em.

    - Cut once per process; each signature embeds the glyphs it draws from it
      (:func:`appearance_font_program`).
    - Without OpenType layout tables, hinting, glyph names or the licence text in
      ``name`` (only the font's names): ~8 KB compressed instead of ~15 KB.
    - 1000 units per em: pyHanko writes the font's advance widths into ``/W`` as
      they are, and PDF reads ``/W`` in thousandths of an em. DejaVu's 2048 units
      made every glyph twice as wide as drawn (letter-spaced text overflowing the
      box, and widths inconsistent with the font program, which PDF/A forbids).
    """
    from fontTools import subset
    from fontTools.ttLib import TTFont
    from fontTools.ttLib.scaleUpem import scale_upem

    options = subset.Options()
    options.layout_features = []
    options.drop_tables += ["GPOS", "GDEF", "GSUB", "FFTM", "MATH", "gasp", "kern"]
    options.name_IDs = [1, 2, 3, 4, 6]
    options.glyph_names = False
    options.notdef_outline = True
    options.hinting = False
    font = TTFont(str(FONT_FILE))
    subsetter = subset.Subsetter(options=options)
    subsetter.populate(unicodes=_UNICODES)
    subsetter.subset(font)
    scale_upem(font, 1000)
    buf = io.BytesIO()
    font.save(buf)
    return buf.getvalue()


class _TightGlyphAccumulator(GlyphAccumulator):
    """Embeds, for each signature, :func:`vietnamese_font` cut to exactly the glyphs its
    appearance draws (HarfBuzz subsetter, glyph ids kept: the content's CIDs, ``/W`` and
    ``ToUnicode`` stay pyHanko's; ~1 ms) instead of fontTools' re-subsetting (~60 ms).
    Two appearances of ~50 glyphs each take ~3 KB each instead of one shared 8 KB cut.
    Without the HarfBuzz subsetter the whole cut is embedded."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        descriptor = self.cidfont_obj._font_descriptor

        def set_font_file(writer: Any) -> Any:
            stream = generic.StreamObject(
                dict_data={generic.NameObject("/Filter"): generic.NameObject("/FlateDecode")},
                encoded_data=zlib.compress(appearance_font_program(self._glyphs), 9),
            )
            ref = writer.add_object(stream)
            descriptor[generic.NameObject("/FontFile2")] = ref
            return ref

        self.cidfont_obj.set_font_file = set_font_file  # type: ignore[method-assign]

    def _extract_subset(self, options: Any = None) -> None:
        """Nothing to do here: the program is cut when it is embedded (set_font_file)."""

    def shape(self, txt: str, with_actual_text: bool = False) -> ShapeResult:
        """pyHanko's shaping without an ``/ActualText`` span around every line: one
        glyph per character here (no ligatures: the cut has no layout tables), so the
        ``ToUnicode`` CMap alone gives the text back; the spans repeated it."""
        return super().shape(txt, with_actual_text=False)

    def _format_tounicode_cmap(self) -> generic.StreamObject:
        """The compact CMap hsba writes for rendered forms (ranges, no line per entry)."""
        from templates.tounicode import to_unicode_cmap

        stream = generic.StreamObject(stream_data=to_unicode_cmap(self._cid_to_unicode))
        stream.compress()
        return stream


def appearance_font_program(glyph_ids: Iterable[int]) -> bytes:
    """:func:`vietnamese_font` holding only ``glyph_ids`` (and .notdef), ids unchanged."""
    from templates.font_subset import subset_font_program

    font = vietnamese_font()
    return subset_font_program(font, {0, *glyph_ids}, retain_gids=True) or font


@dataclass(frozen=True)
class VietnameseFontFactory(GlyphAccumulatorFactory):
    """pyHanko font engine for an appearance: the form's own upright regular font when
    it has every character of ``text_chars`` (:mod:`signer.page_font`, nothing
    embedded), else :func:`vietnamese_font` cut to the glyphs drawn (PDF/A-compatible)."""

    text_chars: frozenset[str] = frozenset()
    """Every character the appearance may draw (empty: always embed a font)."""

    def create_font_engine(  # type: ignore[override]
            self, writer: Any, obj_stream: Any = None) -> FontEngine:
        if self.text_chars:
            page_font = find_page_font(writer, self.text_chars)
            if page_font is not None:
                return PageFontEngine(writer, page_font, self.font_size)
        if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
            obj_stream = writer.prepare_object_stream()
        return _TightGlyphAccumulator(
            writer=writer, font_handle=io.BytesIO(vietnamese_font()),
            font_size=self.font_size, obj_stream=obj_stream,
        )


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


def _appearance_chars(request: SignRequest) -> frozenset[str]:
    """Every character :func:`appearance_text` may draw for ``request`` (only the
    digits of the date and time vary)."""
    return frozenset(appearance_text(request, datetime.now(VN_TZ))) | frozenset("0123456789")


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
            font=VietnameseFontFactory(str(FONT_FILE), font_size=7,
                                       text_chars=_appearance_chars(request)),
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
