"""What this checker cannot vouch for: features whose PDF/A rules it does not implement.

A file that uses one of them gets ``NOT_CHECKED`` (unless a real failure was found), never
``PASS``: a PASS means every rule the file's content is subject to was checked. The
features are found by looking at the file, not at its name:

- font programs other than TrueType (Type 1, CFF, OpenType: 6.2.11.4/6.2.11.5 need the
  program parsed), Type 3 fonts, and CIDSet/CharSet (subset completeness);
- TrueType CID fonts whose ``/W`` widths disagree with the font program's advance widths
  for some listed glyph (whether the glyph is shown is not analysed, so no FAIL);
- inline images, JPEG 2000 images, Separation/DeviceN colour spaces;
- PDF/A-2 embedded files (each must itself be PDF/A-1 or PDF/A-2);
- PDF/A-1 font subsets (6.3.5 requires a complete CIDSet/CharSet).
"""

from __future__ import annotations

import re
import struct

import pikepdf

from templates.pdfa.report import Inspection
from templates.pdfa.walk import all_dicts, font_dicts

_INLINE_IMAGE = re.compile(rb"(?:^|\s)BI\s")


def _tables(font: bytes) -> dict[bytes, bytes]:
    count = struct.unpack_from(">H", font, 4)[0]
    out = {}
    for i in range(count):
        tag, _, offset, length = struct.unpack_from(">4sIII", font, 12 + 16 * i)
        out[tag] = font[offset:offset + length]
    return out


def _truetype_advances(program: bytes) -> tuple[list[int], int]:
    tables = _tables(program)
    units = struct.unpack_from(">H", tables[b"head"], 18)[0]
    n_metrics = struct.unpack_from(">H", tables[b"hhea"], 34)[0]
    n_glyphs = struct.unpack_from(">H", tables[b"maxp"], 4)[0]
    hmtx = tables[b"hmtx"]
    widths = [struct.unpack_from(">H", hmtx, 4 * i)[0] for i in range(n_metrics)]
    return widths + [widths[-1]] * (n_glyphs - n_metrics), units


def _cid_widths(w: pikepdf.Array) -> dict[int, float]:
    items, out, i = list(w), {}, 0
    while i + 1 < len(items):
        first = int(items[i])
        if isinstance(items[i + 1], pikepdf.Array):
            out.update({first + k: float(v) for k, v in enumerate(items[i + 1])})
            i += 2
        else:
            out.update({c: float(items[i + 2]) for c in range(first, int(items[i + 1]) + 1)})
            i += 3
    return out


def _cid_font_widths_agree(cid_font: pikepdf.Dictionary, program: pikepdf.Stream) -> bool:
    widths = cid_font.get("/W")
    if not isinstance(widths, pikepdf.Array):
        return True
    advances, units = _truetype_advances(program.read_bytes())
    c2g = cid_font.get("/CIDToGIDMap")
    mapping = c2g.read_bytes() if isinstance(c2g, pikepdf.Stream) else None
    for cid, width in _cid_widths(widths).items():
        if mapping is not None:
            if 2 * cid + 2 > len(mapping):
                return False
            gid = struct.unpack_from(">H", mapping, 2 * cid)[0]
        else:
            gid = cid
        if gid >= len(advances) or abs(advances[gid] * 1000 / units - width) > 1:
            return False
    return True


def _check_font(ins: Inspection, font: pikepdf.Dictionary) -> None:
    sub = font.get("/Subtype")
    if sub == "/Type3":
        ins.not_checked.add("Type 3 fonts (glyph procedures)")
        return
    target = font
    if sub == "/Type0":
        desc = font.get("/DescendantFonts")
        if not (isinstance(desc, pikepdf.Array) and len(desc)
                and isinstance(desc[0], pikepdf.Dictionary)):
            return
        target = desc[0]
    descriptor = target.get("/FontDescriptor")
    if not isinstance(descriptor, pikepdf.Dictionary):
        return
    if "/CIDSet" in descriptor or "/CharSet" in descriptor:
        ins.not_checked.add("CIDSet/CharSet completeness")
    if ins.part == 1 and "+" in str(font.get("/BaseFont", "")):
        ins.not_checked.add("6.3.5 (PDF/A-1 font subsets: CIDSet/CharSet)")
    if isinstance(descriptor.get("/FontFile"), pikepdf.Stream) or isinstance(
            descriptor.get("/FontFile3"), pikepdf.Stream):
        ins.not_checked.add("Type 1/CFF/OpenType font programs (glyphs and widths)")
        return
    program = descriptor.get("/FontFile2")
    if not isinstance(program, pikepdf.Stream):
        return
    if target.get("/Subtype") != "/CIDFontType2":
        ins.not_checked.add("simple TrueType fonts (encoding, glyphs and widths)")
    elif not _cid_font_widths_agree(target, program):
        ins.not_checked.add("6.2.11.5 (listed glyph widths differ from the font program)")


def check_fonts_coverage(ins: Inspection) -> None:
    for font in font_dicts(ins.pdf):
        try:
            _check_font(ins, font)
        except (struct.error, KeyError, IndexError, ValueError, ZeroDivisionError):
            ins.not_checked.add("font program not readable as TrueType")


def check_content_coverage(ins: Inspection) -> None:
    for obj in ins.pdf.objects:
        if isinstance(obj, pikepdf.Stream):
            filters = obj.stream_dict.get("/Filter")
            names = ([str(f) for f in filters] if isinstance(filters, pikepdf.Array)
                     else [str(filters)])
            if "/JPXDecode" in names:
                ins.not_checked.add("6.2.8.3 (JPEG 2000 images)")
    for d in all_dicts(ins.pdf):
        for value in d.values():
            if (isinstance(value, pikepdf.Array) and len(value) > 1
                    and value[0] in ("/Separation", "/DeviceN")):
                ins.not_checked.add("6.2.4.4 (Separation and DeviceN colour spaces)")
    for page in ins.pdf.pages:
        contents = page.obj.get("/Contents")
        streams = (list(contents) if isinstance(contents, pikepdf.Array) else [contents])
        for stream in streams:
            if isinstance(stream, pikepdf.Stream) and _INLINE_IMAGE.search(stream.read_bytes()):
                ins.not_checked.add("6.1.10/6.2.8 (inline images)")
                return


def check_embedded_files_coverage(ins: Inspection) -> None:
    if ins.part != 2:
        return
    names = ins.pdf.Root.get("/Names")
    if isinstance(names, pikepdf.Dictionary) and "/EmbeddedFiles" in names:
        ins.not_checked.add("6.8 (PDF/A-2 embedded files must be PDF/A)")


RULES = (check_fonts_coverage, check_content_coverage, check_embedded_files_coverage)
