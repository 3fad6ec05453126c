"""The HarfBuzz subsetter (Debian ``libharfbuzz-subset0``), through cffi.

Cuts a TrueType program to given glyph ids in about a millisecond (fontTools takes tens
of milliseconds), without hinting, layout tables, ``name`` or ``cmap``. Used for the
rendered forms' fonts (``templates.pdf_fonts``) and the signature appearance font
(``signer.appearance``). Without the library nothing is cut (callers keep the font).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import lru_cache

log = logging.getLogger(__name__)

__all__ = ["HarfBuzz", "harfbuzz", "subset_font_program"]

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


class HarfBuzz:
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
def harfbuzz() -> HarfBuzz | None:
    try:
        return HarfBuzz()
    except (OSError, ImportError) as e:  # no libharfbuzz-subset: fonts stay as rendered
        log.warning("font compaction unavailable: %s", e)
        return None


def subset_font_program(data: bytes, glyphs: Iterable[int], *,
                        retain_gids: bool = False) -> bytes | None:
    """A TrueType program cut to ``glyphs`` (plus composite components), without hinting,
    layout tables, ``name`` or ``cmap``; glyph ids renumbered unless ``retain_gids``.
    None when the HarfBuzz subsetter is not installed or fails."""
    hb = harfbuzz()
    if hb is None:
        return None
    return hb.subset_font(data, sorted(set(glyphs)),
                          _FLAGS | (_RETAIN_GIDS if retain_gids else 0))
