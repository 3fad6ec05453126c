"""A signature appearance set in the form's own font, embedding no font of its own.

A rendered hsba form embeds its upright regular font with the glyphs of every name and
label on the page, plus what appearances draw (``templates.pdf_fonts.SIGNATURE_CHARS``:
digits, the date words, method labels). When that font has a glyph for every character
of an appearance, the appearance refers to it: no font program, ``ToUnicode`` or
widths of its own (~3 KB per signature, for 10-30 years). Otherwise the appearance
embeds its own cut of DejaVu Sans (``signer.appearance``).

Only a font that maps each needed character to exactly one code with an explicit
width is used (a ``ToUnicode`` entry with several characters, or two codes for one
character, is not trusted), so the text extracts as drawn and PDF/A's width rule holds;
and only when each of those glyphs has the outline and advance of that character in
the installed font the program was cut from (``templates.font_sources``): a font
embedded by whoever made the PDF could draw other shapes than its ``ToUnicode`` says.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.font.api import FontEngine, ShapeResult

from templates.font_sources import draws_as_installed

log = logging.getLogger(__name__)

__all__ = ["PageFont", "PageFontEngine", "find_page_font"]

_NOT_REGULAR = re.compile(r"Bold|Black|Heavy|Semi|Demi|Medium|Italic|Oblique")


@dataclass(frozen=True)
class PageFont:
    """A font of the document an appearance can draw with."""

    reference: generic.IndirectObject
    """The ``Type0`` font dictionary, as the pages refer to it."""
    name: str
    """Its ``/BaseFont``."""
    codes: dict[str, int]
    """Character → the one 2-byte code showing it."""
    widths: dict[int, float]
    """Code → width in 1/1000 em (``/W``)."""
    program: generic.StreamObject
    """The embedded TrueType program (codes are its glyph ids: ``/CIDToGIDMap
    /Identity``)."""


def _get(obj: Any, key: str) -> Any:
    return obj[key] if isinstance(obj, generic.DictionaryObject) and key in obj else None


def _widths(w: Any) -> dict[int, float]:
    items, i = list(w), 0
    out: dict[int, float] = {}
    while i + 1 < len(items):
        first = int(items[i])
        if isinstance(items[i + 1], generic.ArrayObject):
            out.update((first + k, float(v)) for k, v in enumerate(items[i + 1]))
            i += 2
        elif i + 2 < len(items):
            out.update((c, float(items[i + 2])) for c in range(first, int(items[i + 1]) + 1))
            i += 3
        else:
            break
    return out


def _page_font(ref: generic.IndirectObject) -> PageFont | None:
    from templates.tounicode import parse_to_unicode

    font = ref.get_object()
    if _get(font, "/Subtype") != "/Type0" or _get(font, "/Encoding") != "/Identity-H":
        return None
    descendants = _get(font, "/DescendantFonts")
    to_unicode = _get(font, "/ToUnicode")
    if not isinstance(descendants, generic.ArrayObject) or len(descendants) != 1 \
            or not isinstance(to_unicode, generic.StreamObject):
        return None
    cid_font = descendants[0].get_object()
    descriptor = _get(cid_font, "/FontDescriptor")
    name = str(_get(cid_font, "/BaseFont") or "")
    if _get(cid_font, "/Subtype") != "/CIDFontType2" or _get(cid_font, "/W") is None \
            or descriptor is None or "/FontFile2" not in descriptor \
            or _get(cid_font, "/CIDToGIDMap") not in (None, "/Identity"):
        return None
    if int(_get(descriptor, "/Flags") or 0) & 64 or float(_get(descriptor, "/ItalicAngle") or 0) \
            or _NOT_REGULAR.search(name):
        return None
    widths = _widths(cid_font["/W"])
    codes: dict[str, int] = {}
    ambiguous: set[str] = set()
    for code, text in parse_to_unicode(to_unicode.data).items():
        if len(text) != 1 or code not in widths:
            continue
        if text in codes:
            ambiguous.add(text)
        codes[text] = code
    for text in ambiguous:
        del codes[text]
    return PageFont(ref, name, codes, widths, descriptor["/FontFile2"])


def find_page_font(writer: Any, chars: Iterable[str]) -> PageFont | None:
    """An upright regular font on the document's pages with a code for every one of
    ``chars``, or None."""
    needed = set(chars) - {"\n"}
    seen: set[int] = set()
    try:
        todo = [writer.root["/Pages"]]
        while todo:
            node = todo.pop()
            kids = _get(node, "/Kids")
            if isinstance(kids, generic.ArrayObject):
                todo.extend(kid.get_object() for kid in kids)
                continue
            fonts = _get(_get(node, "/Resources"), "/Font")
            if not isinstance(fonts, generic.DictionaryObject):
                continue
            for key in fonts:
                ref = fonts.raw_get(key)
                if not isinstance(ref, generic.IndirectObject) or ref.idnum in seen:
                    continue
                seen.add(ref.idnum)
                found = _page_font(ref)
                if found is not None and needed <= found.codes.keys() and draws_as_installed(
                        found.program.data, {c: found.codes[c] for c in needed}):
                    return found
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        log.warning("page fonts not readable (%s); appearance embeds its own", e)
    return None


class PageFontEngine(FontEngine):
    """pyHanko font engine over a :class:`PageFont`: one glyph per character, widths
    from ``/W``, nothing embedded."""

    def __init__(self, writer: Any, font: PageFont, font_size: int) -> None:
        super().__init__(writer, font.name.lstrip("/"), embedded_subset=False,
                         font_size=font_size)
        self.font = font

    @property
    def uses_complex_positioning(self) -> bool:
        return False

    def shape(self, txt: str) -> ShapeResult:
        codes = [self.font.codes[c] for c in txt]
        advance = sum(self.font.widths[c] for c in codes) / 1000
        ops = b"<" + b"".join(b"%04x" % c for c in codes) + b"> Tj"
        return ShapeResult(graphics_ops=ops, x_advance=advance, y_advance=0)

    def as_resource(self) -> generic.PdfObject:
        ref = self.font.reference
        return generic.IndirectObject(ref.idnum, ref.generation, self.writer)

    def prepare_write(self) -> None:
        """Nothing to write: the font is the document's."""
