"""Compact the embedded font programs of a rendered form (``templates.font_subset``).

WeasyPrint subsets each TrueType font but keeps the original glyph ids ("retain gids"):
Vietnamese letters sit near glyph 1,700-2,000 of Liberation Serif, so every subset
carries ``loca`` and ``hmtx`` entries for two thousand glyphs. Here each font program is
subset again to just the glyphs the page uses (plus composite components), renumbered.
When the page content is plain enough to rewrite safely, the codes it shows are
renumbered too (``/CIDToGIDMap /Identity``, ``/W`` and ``ToUnicode`` with them);
otherwise a ``/CIDToGIDMap`` stream maps the rendered codes to the new glyph ids.
``ToUnicode`` is written compact (``templates.tounicode``).

The upright regular font also gets the glyphs signature appearances draw
(:data:`SIGNATURE_CHARS`, from its installed program, ``templates.font_sources``), so
an appearance can use it instead of embedding a font of its own (``signer.page_font``):
~200 bytes here for ~3 KB per signature.

Every font is checked after subsetting (glyph count, each used glyph's advance width and
outline header equal to the original's); a font that does not check out is left as
rendered.
"""

from __future__ import annotations

import logging
import re
import struct
from dataclasses import dataclass
from typing import Any

import pikepdf

from templates.font_sources import font_source, installed_cmap
from templates.font_subset import HarfBuzz, harfbuzz
from templates.tounicode import parse_to_unicode, to_unicode_cmap

log = logging.getLogger(__name__)

__all__ = ["SIGNATURE_CHARS", "compact_fonts"]


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


# What hsba's signature appearances draw besides names and roles (signer.appearance,
# signer.patient; tests/signer checks they stay covered): added to a rendered form's
# upright regular font, so an appearance can use that font instead of embedding one.
SIGNATURE_CHARS = "".join(sorted(set(
    "Ký ngày 0123456789 tháng năm, : (GMT+7)"
    "Ký số (HSM) Ký số từ xa Ký số (khoá phần mềm) Con dấu số của cơ sở"
    "Người bệnh Phương thức: Chữ ký số của người bệnh Ký tay trên bảng ký điện tử"
    " Xác thực vân tay Mã OTP Người đại diện: ()")))


@dataclass(frozen=True)
class _Cut:
    program: bytes
    """The new font program."""
    new_gid: dict[int, int]
    """Code as rendered (= the original glyph id) → glyph id in ``program``, for the
    glyphs the page shows and the ones added."""
    added: dict[int, tuple[int, str]]
    """Code → (width in 1/1000 em, character) of each glyph added for appearances."""


def _is_upright_regular(cid_font: Any) -> bool:
    descriptor = cid_font.FontDescriptor
    name = str(descriptor.get("/FontName", ""))
    return not int(descriptor.get("/Flags", 0)) & 64 and float(
        descriptor.get("/ItalicAngle", 0)) == 0 and not re.search(
        r"Bold|Black|Heavy|Semi|Demi|Medium|Italic|Oblique", name)


def _added_glyphs(data: bytes, used: set[int], extra_chars: str
                  ) -> tuple[bytes, dict[int, str]] | None:
    """The installed program ``data`` was cut from and the glyphs (id → character) it
    has for ``extra_chars`` that the page does not already show."""
    source = font_source(data)
    if source is None:
        return None
    cmap = installed_cmap(source)
    added: dict[int, str] = {}
    for char in extra_chars:
        gid = cmap.get(ord(char))
        if gid and gid not in used and gid not in added:
            added[gid] = char
    if not added:
        return None
    # the same glyphs: every glyph the page shows has the same header (contours, box)
    mine, theirs = _tables(data), _tables(source)
    if not all(_glyph_header(mine, g) == _glyph_header(theirs, g) for g in used):
        log.warning("installed font differs from the embedded subset; nothing added")
        return None
    return source, added


def _glyph_header(tables: dict[bytes, bytes], gid: int) -> bytes:
    long_loca = struct.unpack_from(">h", tables[b"head"], 50)[0] == 1
    loca = tables[b"loca"]
    if long_loca:
        start, end = struct.unpack_from(">II", loca, 4 * gid)
    else:
        start, end = (2 * v for v in struct.unpack_from(">HH", loca, 2 * gid))
    return tables[b"glyf"][start:min(end, start + 10)]


def _subset(cid_font: Any, hb: HarfBuzz, extra_chars: str = "") -> _Cut | None:
    """The font program cut to the glyphs ``/W`` lists (renumbered), plus the glyphs of
    ``extra_chars`` for an upright regular font whose installed program is found; None
    when the font is not a WeasyPrint-style identity-mapped TrueType CIDFont or the cut
    does not check out."""
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
    source = data
    added: dict[int, str] = {}
    found = _added_glyphs(data, used, extra_chars) \
        if extra_chars and _is_upright_regular(cid_font) else None
    if found is not None:
        source, added = found
    source_tables = _tables(source)
    keep = sorted(_glyph_closure(source_tables, used | set(added)))
    new = hb.subset_font(source, keep)
    if new is None or (not added and len(new) >= len(data)):
        return None
    new_gid = {old: i for i, old in enumerate(keep)}
    old_adv, new_adv = _advances(tables), _advances(_tables(new))
    if len(new_adv) != len(keep) or any(old_adv[g] != new_adv[new_gid[g]] for g in used):
        log.warning("font compaction check failed; font kept as rendered")
        return None
    upem = struct.unpack_from(">H", source_tables[b"head"], 18)[0]
    return _Cut(new, {cid: new_gid[cid] for cid in used | set(added)},
                {gid: (round(new_adv[new_gid[gid]] * 1000 / upem), char)
                 for gid, char in added.items()})


def _widths(cid_font: Any) -> dict[int, Any]:
    items, i = list(cid_font.W), 0
    widths: dict[int, Any] = {}
    while i < len(items):
        first = int(items[i])
        if isinstance(items[i + 1], pikepdf.Array):
            widths.update((first + k, w) for k, w in enumerate(items[i + 1]))
            i += 2
        else:
            widths.update((cid, items[i + 2]) for cid in range(first, int(items[i + 1]) + 1))
            i += 3
    return widths


def _widths_array(widths: dict[int, Any]) -> pikepdf.Array:
    """``/W`` for ``widths`` (code → width): one array per run of consecutive codes."""
    out: list[Any] = []
    for cid, width in sorted(widths.items()):
        if out and out[-2] + len(out[-1]) == cid:
            out[-1].append(width)
        else:
            out += [cid, [width]]
    return pikepdf.Array([pikepdf.Array(x) if isinstance(x, list) else x for x in out])


# Content whose every hex string is shown text and every q/Q/Tf an operator: no literal
# strings, dictionaries (BDC property lists), inline images or comments.
_UNSAFE_CONTENT = re.compile(rb"[(%]|<<|\bBI\b")
# The tokens that matter: a hex string, a font selection (/Name size Tf), q and Q.
_CONTENT_TOKEN = re.compile(
    rb"<([0-9a-fA-F\s]*)>"
    rb"|/([^\s/\[\]()<>{}%]+)\s+[-+]?[\d.]+\s+Tf(?![^\s\[\]<(/%])"
    rb"|(?<![^\s\[\]>)])([qQ])(?![^\s\[\]<(/%])")
_WHITESPACE = b" \t\r\n\f\x00"


def _renumber_content(content: bytes, fonts: dict[str, dict[int, int]]) -> bytes | None:
    """``content`` with the codes of text shown in ``fonts`` (resource name → old → new
    code) renumbered; None when the content is not plain enough to rewrite safely or
    shows a code the mapping does not know."""
    if _UNSAFE_CONTENT.search(content):
        return None
    out, last, stack = [], 0, []
    current: dict[int, int] | None = None
    for token in _CONTENT_TOKEN.finditer(content):
        hex_digits, resource, op = token.groups()
        if resource is not None:
            current = fonts.get(resource.decode("latin-1"))
        elif op == b"q":
            stack.append(current)
        elif op == b"Q":
            current = stack.pop() if stack else None
        elif current is not None:
            digits = hex_digits.translate(None, _WHITESPACE)
            if len(digits) % 4:
                return None
            codes = struct.unpack(f">{len(digits) // 4}H", bytes.fromhex(digits.decode()))
            try:
                renumbered = struct.pack(f">{len(codes)}H", *[current[c] for c in codes])
            except KeyError:
                return None
            out += [content[last:token.start()], b"<", renumbered.hex().encode(), b">"]
            last = token.end()
    return b"".join(out) + content[last:]


def _fonts_in_forms(pdf: pikepdf.Pdf) -> set[tuple[int, int]]:
    """Fonts some form XObject, pattern or annotation appearance also draws with."""
    found: set[tuple[int, int]] = set()
    for obj in pdf.objects:
        if isinstance(obj, pikepdf.Stream) and "/Resources" in obj.stream_dict:
            fonts: Any = obj.stream_dict.Resources.get("/Font", {})
            found.update(f.objgen for f in fonts.values())
    return found


def _write_to_unicode(font: Any, cut: _Cut, code: dict[int, int] | None) -> None:
    """The font's ``ToUnicode`` written compact, with the added glyphs, its codes
    renumbered by ``code`` (old → new; None: codes kept)."""
    stream = font.get("/ToUnicode")
    if not isinstance(stream, pikepdf.Stream):
        return
    original = stream.read_bytes()
    mapping = parse_to_unicode(original)
    mapping.update((gid, char) for gid, (_, char) in cut.added.items())
    if code is not None:
        mapping = {code[c]: text for c, text in mapping.items() if c in code}
    compact = to_unicode_cmap(mapping)
    if mapping and parse_to_unicode(compact) == mapping \
            and (code is not None or cut.added or len(compact) < len(original)):
        stream.write(compact)


def compact_fonts(pdf: pikepdf.Pdf, extra_chars: str = "") -> int:
    """Re-subset every embedded CIDFontType2 program of ``pdf``; returns how many.

    When the page content can be rewritten safely (see :func:`_renumber_content`), the
    codes shown are renumbered to the new glyph ids (``/CIDToGIDMap /Identity``, ``/W``
    and ``ToUnicode`` renumbered too); otherwise a ``/CIDToGIDMap`` stream maps the
    rendered codes to them. The upright regular font also gets the glyphs of
    ``extra_chars`` (e.g. :data:`SIGNATURE_CHARS`) from its installed program, in
    ``/W`` and ``ToUnicode`` like the others."""
    hb = harfbuzz()
    if hb is None:
        return 0
    cuts: dict[tuple[int, int], tuple[Any, _Cut]] = {}
    for page in pdf.pages:
        page_fonts: Any = page.obj.get("/Resources", {}).get("/Font", {})  # type: ignore[call-overload]
        for font in page_fonts.values():
            if font.get("/Subtype") != "/Type0" or font.objgen in cuts:
                continue
            cut = _subset(font.DescendantFonts[0], hb, extra_chars)
            if cut is not None:
                cuts[font.objgen] = (font, cut)
    renumbered = _renumber_pages(pdf, {k: cut.new_gid for k, (_, cut) in cuts.items()})
    for objgen, (font, cut) in cuts.items():
        cid_font = font.DescendantFonts[0]
        stream = cid_font.FontDescriptor.FontFile2
        stream.write(cut.program)
        stream.Length1 = len(cut.program)
        widths = {c: w for c, w in _widths(cid_font).items() if c in cut.new_gid}
        widths.update((gid, width) for gid, (width, _) in cut.added.items())
        if objgen in renumbered:
            cid_font.W = _widths_array({cut.new_gid[c]: w for c, w in widths.items()})
            cid_font.CIDToGIDMap = pikepdf.Name.Identity
            _write_to_unicode(font, cut, cut.new_gid)
        else:
            cid_font.W = _widths_array(widths)
            mapping = bytearray(2 * (max(cut.new_gid) + 1))
            for cid, gid in cut.new_gid.items():
                struct.pack_into(">H", mapping, 2 * cid, gid)
            cid_font.CIDToGIDMap = pdf.make_stream(bytes(mapping))
            _write_to_unicode(font, cut, None)
    return len(cuts)


def _renumber_pages(pdf: pikepdf.Pdf, cut: dict[tuple[int, int], dict[int, int]]
                    ) -> set[tuple[int, int]]:
    """Rewrite every page's content with renumbered codes; the fonts done (all or none)."""
    candidates = set(cut) - _fonts_in_forms(pdf)
    if any("/Resources" not in page.obj for page in pdf.pages):
        return set()  # inherited resources: which fonts a page shows is not followed here
    rewritten: list[tuple[Any, bytes]] = []
    for page in pdf.pages:
        contents = page.obj.get("/Contents")
        fonts: Any = page.obj.get("/Resources", {}).get("/Font", {})  # type: ignore[call-overload]
        names = {str(k)[1:]: cut[f.objgen] for k, f in fonts.items()
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
