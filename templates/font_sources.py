"""The installed font file a rendered subset was cut from.

WeasyPrint embeds subsets that keep the original glyph ids and the original ``head``
table. To add a few glyphs to such a subset (the characters signature appearances
draw, see ``templates.pdf_fonts``), the full program is found among the installed
fonts by the ``head`` fingerprint: font revision, units per em, creation and
modification times. Scanned once per process (``head`` tables only, a few ms).
"""

from __future__ import annotations

import io
import logging
import struct
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

__all__ = ["FONT_DIRS", "draws_as_installed", "font_source", "head_fingerprint",
           "installed_cmap"]

FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))


def _table(font: bytes, tag: bytes) -> bytes | None:
    if len(font) < 12:
        return None
    count = struct.unpack_from(">H", font, 4)[0]
    for i in range(count):
        if 12 + 16 * (i + 1) > len(font):
            return None
        name, _, offset, length = struct.unpack_from(">4sIII", font, 12 + 16 * i)
        if name == tag:
            return font[offset:offset + length]
    return None


def head_fingerprint(font: bytes) -> bytes | None:
    """fontRevision, unitsPerEm, created, modified of a TrueType/OpenType program."""
    head = _table(font, b"head")
    if head is None or len(head) < 36:
        return None
    return head[4:8] + head[18:36]


@lru_cache(maxsize=1)
def _installed() -> dict[bytes, Path]:
    found: dict[bytes, Path] = {}
    for directory in FONT_DIRS:
        if not directory.is_dir():
            continue
        for path in sorted(directory.rglob("*")):
            if path.suffix.lower() not in (".ttf", ".otf"):
                continue
            try:
                with path.open("rb") as fh:
                    start = fh.read(12 + 16 * 64)
                    head = _table(start, b"head") if len(start) >= 12 else None
                    if head is None:  # table directory read; fetch the head table itself
                        offset = _head_offset(start)
                        if offset is None:
                            continue
                        fh.seek(offset)
                        head = fh.read(54)
            except OSError:
                continue
            if len(head) >= 36:
                found.setdefault(head[4:8] + head[18:36], path)
    return found


def _head_offset(start: bytes) -> int | None:
    count = struct.unpack_from(">H", start, 4)[0]
    for i in range(min(count, 64)):
        name, _, offset, _length = struct.unpack_from(">4sIII", start, 12 + 16 * i)
        if name == b"head":
            return int(offset)
    return None


@lru_cache(maxsize=16)
def _read(path: Path) -> bytes:
    return path.read_bytes()


def font_source(subset: bytes) -> bytes | None:
    """The installed font program ``subset`` was cut from, or None."""
    fingerprint = head_fingerprint(subset)
    path = _installed().get(fingerprint) if fingerprint else None
    if path is None:
        return None
    try:
        return _read(path)
    except OSError as e:
        log.warning("font source unreadable: %s", e)
        return None


class _Glyphs:
    """Raw ``glyf``/``loca``/``hmtx`` access to a TrueType program (no decoding)."""

    def __init__(self, font: bytes) -> None:
        tables: dict[bytes, bytes] = {}
        for tag in (b"head", b"loca", b"glyf", b"hhea", b"hmtx", b"maxp"):
            table = _table(font, tag)
            if table is None:
                raise ValueError("not a TrueType program")
            tables[tag] = table
        self.t = tables
        self.long_loca = struct.unpack_from(">h", tables[b"head"], 50)[0] == 1
        self.count = struct.unpack_from(">H", tables[b"maxp"], 4)[0]
        self.metrics = struct.unpack_from(">H", tables[b"hhea"], 34)[0]

    def data(self, gid: int) -> bytes:
        loca = self.t[b"loca"]
        if self.long_loca:
            start, end = struct.unpack_from(">II", loca, 4 * gid)
        else:
            start, end = (2 * v for v in struct.unpack_from(">HH", loca, 2 * gid))
        return self.t[b"glyf"][start:end]

    def advance(self, gid: int) -> int:
        return int(struct.unpack_from(">H", self.t[b"hmtx"], 4 * min(gid, self.metrics - 1))[0])


def _same_glyph(a: _Glyphs, ga: int, b: _Glyphs, gb: int, depth: int = 0) -> bool:
    """Same outline: simple glyphs equal but for hinting instructions; composite glyphs
    with the same components (compared recursively) placed the same way."""
    if depth > 8 or ga >= a.count or gb >= b.count:
        return False
    da, db = a.data(ga), b.data(gb)
    if not da or not db:
        return da == db
    contours = struct.unpack_from(">h", da, 0)[0]
    if da[:10] != db[:10]:
        return False
    if contours >= 0:
        n = 10 + 2 * contours
        ia, ib = (struct.unpack_from(">H", d, n)[0] for d in (da, db))
        rest_a, rest_b = da[n + 2 + ia:], db[n + 2 + ib:]
        return da[:n] == db[:n] and rest_a.rstrip(b"\0") == rest_b.rstrip(b"\0")
    pa = pb = 10
    while True:
        fa, ca = struct.unpack_from(">HH", da, pa)
        fb, cb = struct.unpack_from(">HH", db, pb)
        size = 4 + (4 if fa & 0x1 else 2)
        size += 8 if fa & 0x80 else 4 if fa & 0x40 else 2 if fa & 0x8 else 0
        if (fa & ~0x100) != (fb & ~0x100) or da[pa + 4:pa + size] != db[pb + 4:pb + size]:
            return False
        if not _same_glyph(a, ca, b, cb, depth + 1):
            return False
        pa, pb = pa + size, pb + size
        if not fa & 0x20:
            return True


@lru_cache(maxsize=8)
def _installed_glyphs(source: bytes) -> tuple[_Glyphs, dict[int, int]]:
    from fontTools.ttLib import TTFont

    font = TTFont(io.BytesIO(source), lazy=True)
    cmap = {code: font.getGlyphID(name) for code, name in font.getBestCmap().items()}
    return _Glyphs(source), cmap


def installed_cmap(source: bytes) -> dict[int, int]:
    """Character code → glyph id of an installed font program (parsed once)."""
    return _installed_glyphs(source)[1]


def draws_as_installed(program: bytes, glyphs: dict[str, int]) -> bool:
    """Whether each glyph id of ``program`` in ``glyphs`` (character → id) has the same
    outline and advance as that character's glyph in the installed font ``program``
    was cut from. A font embedded by someone else could draw other shapes than its
    ``ToUnicode`` claims; hsba draws its own text only with a font that checks out."""
    source = font_source(program)
    if source is None:
        return False
    try:
        installed, cmap = _installed_glyphs(source)
        embedded = _Glyphs(program)
        for char, gid in glyphs.items():
            original = cmap.get(ord(char))
            if original is None or embedded.advance(gid) != installed.advance(original) \
                    or not _same_glyph(embedded, gid, installed, original):
                return False
    except (ValueError, struct.error, IndexError) as e:  # malformed: not trusted
        log.warning("embedded font not comparable: %s", type(e).__name__)
        return False
    return True
