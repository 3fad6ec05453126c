"""The visible appearance of a signature: name, role, date and time, method.

Text is set in DejaVu Sans (embedded, subset) so Vietnamese renders and the
file stays PDF/A; a patient's handwritten image is drawn behind the text.
Dates follow Vietnamese usage: "ngày 27 tháng 11 năm 2026, 14:05 (GMT+7)".
"""

from __future__ import annotations

import io
import zlib
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.layout import AxisAlignment, Margins, SimpleBoxLayoutRule
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.stamp import TextStampStyle

from core.errors import InvalidInput
from signer.request import METHOD_LABELS, SignRequest

__all__ = [
    "FONT_FILE",
    "VN_TZ",
    "VietnameseFontFactory",
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

    - One cut for every signature of a document (see :func:`_embedded_font_file`),
      never re-subset per signature (fontTools costs ~60 ms a subset).
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


@lru_cache(maxsize=1)
def _font_file_stream() -> bytes:
    return zlib.compress(vietnamese_font(), 9)


class _PrecutGlyphAccumulator(GlyphAccumulator):
    """Embeds :func:`vietnamese_font` as it is (already a subset, ~13 KB, compressed
    once per process) instead of re-subsetting and re-encoding it per signature."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        descriptor = self.cidfont_obj._font_descriptor

        def set_font_file(writer: Any) -> Any:
            ref = _embedded_font_file(writer)
            if ref is None:
                stream = generic.StreamObject(
                    dict_data={generic.NameObject("/Filter"): generic.NameObject("/FlateDecode")},
                    encoded_data=_font_file_stream(),
                )
                ref = writer.add_object(stream)
            descriptor[generic.NameObject("/FontFile2")] = ref
            return ref

        self.cidfont_obj.set_font_file = set_font_file  # type: ignore[method-assign]

    def _extract_subset(self, options: Any = None) -> None:
        """Nothing to do: the font is the Vietnamese cut (glyph ids unchanged)."""


def _embedded_font_file(writer: Any) -> generic.IndirectObject | None:
    """The Vietnamese cut as an earlier signature of this document embedded it, so a
    second signature refers to the same font program instead of adding ~8 KB again."""
    try:
        fields = writer.root["/AcroForm"]["/Fields"]
    except (KeyError, TypeError):
        return None
    wanted = _font_file_stream()
    for field in fields:
        found = _font_file_in(field.get_object(), wanted, 0)
        if found is not None:
            return found
    return None


def _get(obj: Any, key: str) -> Any:
    """``obj[key]`` dereferenced, or None (pyHanko's ``dict.get`` does not dereference)."""
    if isinstance(obj, generic.DictionaryObject) and key in obj:
        return obj[key]
    return None


def _font_file_in(obj: Any, wanted: bytes, depth: int) -> generic.IndirectObject | None:
    """Search a field/widget, its normal appearance and nested form XObjects."""
    if depth > 6 or not isinstance(obj, generic.DictionaryObject):
        return None
    children: list[Any] = []
    kids, appearance = _get(obj, "/Kids"), _get(obj, "/AP")
    if isinstance(kids, generic.ArrayObject):
        children.extend(kids)
    if isinstance(appearance, generic.DictionaryObject) and "/N" in appearance:
        children.append(appearance.raw_get("/N"))
    resources = _get(obj, "/Resources")
    if isinstance(resources, generic.DictionaryObject):
        fonts = _get(resources, "/Font")
        for font in (fonts.values() if isinstance(fonts, generic.DictionaryObject) else ()):
            font = font.get_object()
            cids = _get(font, "/DescendantFonts")
            for cid in (cids if isinstance(cids, generic.ArrayObject) else ()):
                cid = cid.get_object()
                descriptor = _get(cid, "/FontDescriptor")
                if not isinstance(descriptor, generic.DictionaryObject) \
                        or "/FontFile2" not in descriptor:
                    continue
                ref = descriptor.raw_get("/FontFile2")
                if isinstance(ref, generic.IndirectObject) \
                        and ref.get_object().encoded_data == wanted:
                    return ref
        xobjects = _get(resources, "/XObject")
        if isinstance(xobjects, generic.DictionaryObject):
            children.extend(xobjects.values())
    for child in children:
        found = _font_file_in(child.get_object() if hasattr(child, "get_object") else child,
                              wanted, depth + 1)
        if found is not None:
            return found
    return None


class VietnameseFontFactory(GlyphAccumulatorFactory):
    """pyHanko font engine over :func:`vietnamese_font` (embedded, PDF/A-compatible)."""

    def create_font_engine(self, writer: Any, obj_stream: Any = None) -> GlyphAccumulator:
        if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
            obj_stream = writer.prepare_object_stream()
        return _PrecutGlyphAccumulator(
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
            font=VietnameseFontFactory(str(FONT_FILE), font_size=7),
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
