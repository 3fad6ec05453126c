"""Compact the embedded font programs of a rendered form (HarfBuzz subsetter, via cffi).

WeasyPrint subsets each TrueType font but keeps the original glyph ids ("retain gids"):
Vietnamese letters sit near glyph 1,700-2,000 of Liberation Serif, so every subset
carries ``loca`` and ``hmtx`` entries for two thousand glyphs. Here each font program is
subset again to just the glyphs the page uses (plus composite components), renumbered,
and the descendant font gets a ``/CIDToGIDMap`` stream from the content's CIDs to the new
glyph ids: the content streams, ``/W`` widths and ``ToUnicode`` stay as they are.

Every font is checked after subsetting (glyph count and each used glyph's advance width
equal to the original's); a font that does not check out is left untouched.
"""

from __future__ import annotations

import logging
import re
import struct
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import pikepdf

from templates.tounicode import parse_to_unicode, to_unicode_cmap

log = logging.getLogger(__name__)

_CDEF = """
typedef struct hb_blob_t hb_blob_t;
typedef struct hb_face_t hb_face_t;
typedef struct hb_set_t hb_set_t;
typedef struct hb_subset_input_t hb_subset_input_t;
typedef uint32_t hb_tag_t;
typedef uint32_t hb_codepoint_t;
hb_blob_t *hb_blob_create(const char *data, unsigned int length, int mode, void *user_data,
                          void *destroy);
void hb_blob_destroy(hb_blob_t *blob);
const char *hb_blob_get_data(hb_blob_t *blob, unsigned int *length);
hb_face_t *hb_face_create(hb_blob_t *blob, unsigned int index);
void hb_face_destroy(hb_face_t *face);
hb_blob_t *hb_face_reference_blob(hb_face_t *face);
unsigned int hb_face_get_glyph_count(const hb_face_t *face);
void hb_set_add(hb_set_t *set, hb_codepoint_t codepoint);
hb_tag_t hb_tag_from_string(const char *str, int len);
hb_subset_input_t *hb_subset_input_create_or_fail(void);
void hb_subset_input_destroy(hb_subset_input_t *input);
hb_set_t *hb_subset_input_glyph_set(hb_subset_input_t *input);
hb_set_t *hb_subset_input_set(hb_subset_input_t *input, int set_type);
void hb_subset_input_set_flags(hb_subset_input_t *input, unsigned int value);
hb_face_t *hb_subset_or_fail(hb_face_t *source, const hb_subset_input_t *input);
"""
_MEMORY_MODE_DUPLICATE = 0
_SETS_DROP_TABLE_TAG = 3
_FLAGS = 0x1 | 0x200  # NO_HINTING | NO_LAYOUT_CLOSURE
_RETAIN_GIDS = 0x2
_DROP_TABLES = (b"GDEF", b"GSUB", b"GPOS", b"name", b"DSIG", b"kern", b"gasp", b"cmap")


class _HarfBuzz:
    def __init__(self) -> None:
        import cffi

        self.ffi = cffi.FFI()
        self.ffi.cdef(_CDEF)
        self.hb = self.ffi.dlopen("libharfbuzz.so.0")
        self.subset = self.ffi.dlopen("libharfbuzz-subset.so.0")

    def subset_font(self, data: bytes, glyphs: list[int], flags: int = _FLAGS) -> bytes | None:
        ffi, hb, sub = self.ffi, self.hb, self.subset
        blob = hb.hb_blob_create(data, len(data), _MEMORY_MODE_DUPLICATE, ffi.NULL, ffi.NULL)
        face = hb.hb_face_create(blob, 0)
        hb.hb_blob_destroy(blob)
        plan_input = sub.hb_subset_input_create_or_fail()
        try:
            if plan_input == ffi.NULL:
                return None
            glyph_set = sub.hb_subset_input_glyph_set(plan_input)
            for gid in glyphs:
                hb.hb_set_add(glyph_set, gid)
            drop = sub.hb_subset_input_set(plan_input, _SETS_DROP_TABLE_TAG)
            for tag in _DROP_TABLES:
                hb.hb_set_add(drop, hb.hb_tag_from_string(tag, 4))
            sub.hb_subset_input_set_flags(plan_input, flags)
            result = sub.hb_subset_or_fail(face, plan_input)
            if result == ffi.NULL:
                return None
            out_blob = hb.hb_face_reference_blob(result)
            length = ffi.new("unsigned int *")
            out = bytes(ffi.buffer(hb.hb_blob_get_data(out_blob, length), length[0]))
            hb.hb_blob_destroy(out_blob)
            hb.hb_face_destroy(result)
            return out
        finally:
            if plan_input != ffi.NULL:
                sub.hb_subset_input_destroy(plan_input)
            hb.hb_face_destroy(face)


@lru_cache(maxsize=1)
def _harfbuzz() -> _HarfBuzz | None:
    try:
        return _HarfBuzz()
    except (OSError, ImportError) as e:  # no libharfbuzz-subset: fonts stay as rendered
        log.warning("font compaction unavailable: %s", e)
        return None


def subset_font_program(data: bytes, glyphs: Iterable[int], *,
                        retain_gids: bool = False) -> bytes | None:
    """A TrueType program cut to ``glyphs`` (plus composite components), without hinting,
    layout tables, ``name`` or ``cmap``; glyph ids renumbered unless ``retain_gids``.
    None when the HarfBuzz subsetter is not installed or fails."""
    hb = _harfbuzz()
    if hb is None:
        return None
    return hb.subset_font(data, sorted(set(glyphs)),
                          _FLAGS | (_RETAIN_GIDS if retain_gids else 0))


def _tables(font: bytes) -> dict[bytes, bytes]:
    count = struct.unpack_from(">H", font, 4)[0]
    tables = {}
    for i in range(count):
        tag, _, offset, length = struct.unpack_from(">4sIII", font, 12 + 16 * i)
        tables[tag] = font[offset:offset + length]
    return tables


def _advances(tables: dict[bytes, bytes]) -> list[int]:
    n_metrics = struct.unpack_from(">H", tables[b"hhea"], 34)[0]
    n_glyphs = struct.unpack_from(">H", tables[b"maxp"], 4)[0]
    hmtx = tables[b"hmtx"]
    widths = [struct.unpack_from(">H", hmtx, 4 * i)[0] for i in range(n_metrics)]
    return widths + [widths[-1]] * (n_glyphs - n_metrics)


def _glyph_closure(tables: dict[bytes, bytes], glyphs: set[int]) -> set[int]:
    """``glyphs`` plus the components of composite glyphs (recursively)."""
    long_loca = struct.unpack_from(">h", tables[b"head"], 50)[0] == 1
    loca, glyf = tables[b"loca"], tables[b"glyf"]
    n = len(loca) // (4 if long_loca else 2) - 1

    def span(gid: int) -> tuple[int, int]:
        if long_loca:
            return struct.unpack_from(">II", loca, 4 * gid)
        a, b = struct.unpack_from(">HH", loca, 2 * gid)
        return 2 * a, 2 * b

    todo, seen = list(glyphs), set(glyphs)
    while todo:
        gid = todo.pop()
        if gid >= n:
            continue
        start, end = span(gid)
        if end - start < 10 or struct.unpack_from(">h", glyf, start)[0] >= 0:
            continue
        pos = start + 10
        while True:
            flags, component = struct.unpack_from(">HH", glyf, pos)
            if component not in seen:
                seen.add(component)
                todo.append(component)
            pos += 4 + (4 if flags & 0x1 else 2)
            pos += 8 if flags & 0x80 else 4 if flags & 0x40 else 2 if flags & 0x8 else 0
            if not flags & 0x20:
                break
    return seen


def _used_cids(widths: Any) -> set[int]:
    cids: set[int] = set()
    items = list(widths)
    i = 0
    while i < len(items):
        first = int(items[i])
        if isinstance(items[i + 1], pikepdf.Array):
            cids.update(range(first, first + len(items[i + 1])))
            i += 2
        else:
            cids.update(range(first, int(items[i + 1]) + 1))
            i += 3
    return cids


def _subset(cid_font: Any, hb: _HarfBuzz) -> tuple[bytes, dict[int, int]] | None:
    """The font program cut to the glyphs ``/W`` lists (renumbered) and old → new glyph
    ids; None when the font is not a WeasyPrint-style identity-mapped TrueType CIDFont
    or the cut does not check out."""
    if cid_font.get("/Subtype") != "/CIDFontType2" or "/W" not in cid_font:
        return None
    if cid_font.get("/CIDToGIDMap", pikepdf.Name.Identity) != pikepdf.Name.Identity:
        return None
    descriptor = cid_font.FontDescriptor
    program = descriptor.get("/FontFile2")
    if not isinstance(program, pikepdf.Stream) or "/CIDSet" in descriptor:
        return None
    data = program.read_bytes()
    tables = _tables(data)
    used = _used_cids(cid_font.W) | {0}
    keep = sorted(_glyph_closure(tables, used))
    new = hb.subset_font(data, keep)
    if new is None or len(new) >= len(data):
        return None
    new_gid = {old: i for i, old in enumerate(keep)}
    old_adv, new_adv = _advances(tables), _advances(_tables(new))
    if len(new_adv) != len(keep) or any(old_adv[g] != new_adv[new_gid[g]] for g in used):
        log.warning("font compaction check failed; font kept as rendered")
        return None
    return new, {cid: new_gid[cid] for cid in used}


def _widths(cid_font: Any) -> dict[int, Any]:
    items, widths, i = list(cid_font.W), {}, 0
    while i < len(items):
        first = int(items[i])
        if isinstance(items[i + 1], pikepdf.Array):
            widths.update((first + k, w) for k, w in enumerate(items[i + 1]))
            i += 2
        else:
            widths.update((cid, items[i + 2]) for cid in range(first, int(items[i + 1]) + 1))
            i += 3
    return widths


def _renumbered_widths(cid_font: Any, new_cid: dict[int, int]) -> pikepdf.Array:
    by_new = sorted((new_cid[cid], width) for cid, width in _widths(cid_font).items()
                    if cid in new_cid)
    out: list[Any] = []
    for cid, width in by_new:
        if out and out[-2] + len(out[-1]) == cid:
            out[-1].append(width)
        else:
            out += [cid, [width]]
    return pikepdf.Array([pikepdf.Array(x) if isinstance(x, list) else x for x in out])


# Content whose every hex string is shown text and every q/Q/Tf an operator: no literal
# strings, dictionaries (BDC property lists), inline images or comments.
_UNSAFE_CONTENT = re.compile(rb"[(%]|<<|\bBI\b")
_CONTENT_TOKEN = re.compile(rb"<([0-9a-fA-F\s]*)>|/([^\s/\[\]()<>{}%]+)|([^\s/\[\]()<>{}%]+)")


def _renumber_content(content: bytes, fonts: dict[str, dict[int, int]]) -> bytes | None:
    """``content`` with the codes of text shown in ``fonts`` (resource name → old → new
    code) renumbered; None when the content is not plain enough to rewrite safely or
    shows a code the mapping does not know."""
    if _UNSAFE_CONTENT.search(content):
        return None
    out, last, stack = [], 0, []
    current: dict[int, int] | None = None
    name = b""
    for token in _CONTENT_TOKEN.finditer(content):
        hex_digits, resource, word = token.groups()
        if resource is not None:
            name = resource
        elif word in (b"q", b"Q"):
            if word == b"q":
                stack.append(current)
            elif stack:
                current = stack.pop()
        elif word == b"Tf":
            current = fonts.get(name.decode("latin-1"))
        elif hex_digits is not None and current is not None:
            digits = re.sub(rb"\s", b"", hex_digits)
            if len(digits) % 4:
                return None
            codes = [int(digits[k:k + 4], 16) for k in range(0, len(digits), 4)]
            if any(c not in current for c in codes):
                return None
            out += [content[last:token.start()], b"<",
                    b"".join(b"%04x" % current[c] for c in codes), b">"]
            last = token.end()
    return b"".join(out) + content[last:]


def _fonts_in_forms(pdf: pikepdf.Pdf) -> set[tuple[int, int]]:
    """Fonts some form XObject, pattern or annotation appearance also draws with."""
    found: set[tuple[int, int]] = set()
    for obj in pdf.objects:
        if isinstance(obj, pikepdf.Stream) and "/Resources" in obj.stream_dict:
            fonts = obj.stream_dict.Resources.get("/Font", {})
            found.update(f.objgen for f in fonts.values())
    return found


def _compact_to_unicode(font: Any, new_cid: dict[int, int] | None = None) -> None:
    stream = font.get("/ToUnicode")
    if not isinstance(stream, pikepdf.Stream):
        return
    original = stream.read_bytes()
    mapping = parse_to_unicode(original)
    if new_cid is not None:
        mapping = {new_cid[c]: text for c, text in mapping.items() if c in new_cid}
    compact = to_unicode_cmap(mapping)
    if mapping and (new_cid is not None or len(compact) < len(original)) \
            and parse_to_unicode(compact) == mapping:
        stream.write(compact)


def compact_fonts(pdf: pikepdf.Pdf) -> int:
    """Re-subset every embedded CIDFontType2 program of ``pdf``; returns how many.

    When the page content can be rewritten safely (see :func:`_renumber_content`), the
    codes shown are renumbered to the new glyph ids (``/CIDToGIDMap /Identity``, ``/W``
    and ``ToUnicode`` renumbered too); otherwise a ``/CIDToGIDMap`` stream maps the
    rendered codes to them."""
    hb = _harfbuzz()
    if hb is None:
        return 0
    cut: dict[tuple[int, int], tuple[Any, bytes, dict[int, int]]] = {}
    for page in pdf.pages:
        for font in page.obj.get("/Resources", {}).get("/Font", {}).values():
            if font.get("/Subtype") != "/Type0" or font.objgen in cut:
                continue
            result = _subset(font.DescendantFonts[0], hb)
            if result is not None:
                cut[font.objgen] = (font, *result)
    renumbered = _renumber_pages(pdf, cut)
    for objgen, (font, program, new_cid) in cut.items():
        cid_font = font.DescendantFonts[0]
        stream = cid_font.FontDescriptor.FontFile2
        stream.write(program)
        stream.Length1 = len(program)
        if objgen in renumbered:
            cid_font.W = _renumbered_widths(cid_font, new_cid)
            cid_font.CIDToGIDMap = pikepdf.Name.Identity
            _compact_to_unicode(font, new_cid)
        else:
            mapping = bytearray(2 * (max(new_cid) + 1))
            for cid, gid in new_cid.items():
                struct.pack_into(">H", mapping, 2 * cid, gid)
            cid_font.CIDToGIDMap = pdf.make_stream(bytes(mapping))
            _compact_to_unicode(font)
    return len(cut)


def _renumber_pages(pdf: pikepdf.Pdf, cut: dict[tuple[int, int], Any]) -> set[tuple[int, int]]:
    """Rewrite every page's content with renumbered codes; the fonts done (all or none)."""
    candidates = set(cut) - _fonts_in_forms(pdf)
    if any("/Resources" not in page.obj for page in pdf.pages):
        return set()  # inherited resources: which fonts a page shows is not followed here
    rewritten: list[tuple[Any, bytes]] = []
    for page in pdf.pages:
        contents = page.obj.get("/Contents")
        fonts = page.obj.get("/Resources", {}).get("/Font", {})
        names = {str(k)[1:]: cut[f.objgen][2] for k, f in fonts.items()
                 if f.objgen in candidates}
        if not names:
            continue
        if not isinstance(contents, pikepdf.Stream):
            return set()
        data = _renumber_content(contents.read_bytes(), names)
        if data is None:
            return set()
        rewritten.append((contents, data))
    for contents, data in rewritten:
        contents.write(data)
    return candidates
