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
import struct
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import pikepdf

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


def _compact_font(pdf: pikepdf.Pdf, cid_font: Any, hb: _HarfBuzz) -> bool:
    if cid_font.get("/Subtype") != "/CIDFontType2" or "/W" not in cid_font:
        return False
    if cid_font.get("/CIDToGIDMap", pikepdf.Name.Identity) != pikepdf.Name.Identity:
        return False
    descriptor = cid_font.FontDescriptor
    program = descriptor.get("/FontFile2")
    if not isinstance(program, pikepdf.Stream) or "/CIDSet" in descriptor:
        return False
    data = program.read_bytes()
    tables = _tables(data)
    used = _used_cids(cid_font.W) | {0}
    keep = sorted(_glyph_closure(tables, used))
    new = hb.subset_font(data, keep)
    if new is None:
        return False
    new_gid = {old: i for i, old in enumerate(keep)}
    old_adv, new_adv = _advances(tables), _advances(_tables(new))
    if len(new_adv) != len(keep) or any(old_adv[g] != new_adv[new_gid[g]] for g in used):
        log.warning("font compaction check failed; font kept as rendered")
        return False
    if len(new) >= len(data):
        return False
    mapping = bytearray(2 * (max(used) + 1))
    for cid in used:
        struct.pack_into(">H", mapping, 2 * cid, new_gid[cid])
    program.write(new)
    program.Length1 = len(new)
    cid_font.CIDToGIDMap = pdf.make_stream(bytes(mapping))
    return True


def compact_fonts(pdf: pikepdf.Pdf) -> int:
    """Re-subset every embedded CIDFontType2 program of ``pdf``; returns how many."""
    hb = _harfbuzz()
    if hb is None:
        return 0
    done = 0
    seen: set[tuple[int, int]] = set()
    for page in pdf.pages:
        fonts = page.obj.get("/Resources", {}).get("/Font", {})
        for font in fonts.values():
            if font.get("/Subtype") != "/Type0" or font.objgen in seen:
                continue
            seen.add(font.objgen)
            done += _compact_font(pdf, font.DescendantFonts[0], hb)
    return done
