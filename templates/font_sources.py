"""The installed font file a rendered subset was cut from.

WeasyPrint embeds subsets that keep the original glyph ids and the original ``head``
table. To add a few glyphs to such a subset (the characters signature appearances
draw, see ``templates.pdf_fonts``), the full program is found among the installed
fonts by the ``head`` fingerprint: font revision, units per em, creation and
modification times. Scanned once per process (``head`` tables only, a few ms).
"""

from __future__ import annotations

import logging
import struct
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

__all__ = ["FONT_DIRS", "font_source", "head_fingerprint"]

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
