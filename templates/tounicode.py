"""``ToUnicode`` CMaps (2-byte codes): read the ones WeasyPrint and pyHanko write, write
compact ones.

A form keeps one CMap per font for 10-30 years. WeasyPrint writes one line per glyph, in
no order; pyHanko lists every target of a range. Here consecutive codes mapped to
consecutive characters become one ``bfrange`` entry with a single start value (as
ISO 32000-1 9.10.3 allows within one 256-block), the rest ``bfchar``, without a line per
entry: ~40 % smaller compressed.
"""

from __future__ import annotations

import re

__all__ = ["parse_to_unicode", "to_unicode_cmap"]

_CMAP_HEADER = (b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CIDSystemInfo"
                b" <</Registry (Adobe) /Ordering (UCS) /Supplement 0>> def /CMapName"
                b" /Adobe-Identity-UCS def /CMapType 2 def 1 begincodespacerange <0000> <ffff>"
                b" endcodespacerange\n")
_CMAP_FOOTER = b"endcmap CMapName currentdict /CMap defineresource pop end end"
_CMAP_PAIR = re.compile(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]*)>")
_CMAP_RANGE = re.compile(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s*(\[[^\]]*\]|<[0-9a-fA-F]*>)")
_BLOCK = 100  # entries per bfchar/bfrange block, at most (PDF limit)


def _utf16(hex_digits: bytes) -> str:
    return bytes.fromhex(hex_digits.decode("ascii")).decode("utf-16-be", "replace")


def parse_to_unicode(cmap: bytes) -> dict[int, str]:
    """Code → text of a ``ToUnicode`` CMap (``bfchar`` and both ``bfrange`` forms)."""
    mapping: dict[int, str] = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", cmap, re.DOTALL):
        for src, dst in _CMAP_PAIR.findall(block):
            mapping[int(src, 16)] = _utf16(dst)
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", cmap, re.DOTALL):
        for first, last, dst in _CMAP_RANGE.findall(block):
            start, end = int(first, 16), int(last, 16)
            if dst.startswith(b"["):
                for k, item in enumerate(re.findall(rb"<([0-9a-fA-F]*)>", dst)):
                    mapping[start + k] = _utf16(item)
            elif dst != b"<>":
                text = _utf16(dst[1:-1])
                for k in range(end - start + 1):
                    mapping[start + k] = text[:-1] + chr(ord(text[-1]) + k)
    return mapping


def _runs(mapping: dict[int, str]) -> tuple[list[tuple[int, int, str]], list[tuple[int, str]]]:
    """Consecutive codes mapped to consecutive single BMP characters, within one
    256-block of codes and of characters (``bfrange`` increments the last byte only),
    and the other entries."""
    ranges: list[tuple[int, int, str]] = []
    chars: list[tuple[int, str]] = []
    items = sorted(mapping.items())
    i = 0
    while i < len(items):
        code, text = items[i]
        j = i
        if len(text) == 1 and ord(text) < 0x10000:
            while (j + 1 < len(items)
                   and items[j + 1][0] == code + (j + 1 - i) and items[j + 1][0] >> 8 == code >> 8
                   and len(items[j + 1][1]) == 1
                   and ord(items[j + 1][1]) == ord(text) + (j + 1 - i)
                   and ord(items[j + 1][1]) >> 8 == ord(text) >> 8):
                j += 1
        if j > i:
            ranges.append((code, items[j][0], text))
        else:
            chars.append((code, text))
        i = j + 1
    return ranges, chars


def _hex(text: str) -> bytes:
    return text.encode("utf-16-be").hex().encode("ascii")


def to_unicode_cmap(mapping: dict[int, str]) -> bytes:
    """A compact ``ToUnicode`` CMap for 2-byte codes."""
    ranges, chars = _runs(mapping)
    parts = [_CMAP_HEADER]
    for k in range(0, len(chars), _BLOCK):
        block = chars[k:k + _BLOCK]
        parts.append(b"%d beginbfchar\n" % len(block)
                     + b"".join(b"<%04x><%s>" % (code, _hex(text)) for code, text in block)
                     + b"\nendbfchar\n")
    for k in range(0, len(ranges), _BLOCK):
        runs = ranges[k:k + _BLOCK]
        parts.append(b"%d beginbfrange\n" % len(runs)
                     + b"".join(b"<%04x><%04x><%s>" % (a, b, _hex(text)) for a, b, text in runs)
                     + b"\nendbfrange\n")
    parts.append(_CMAP_FOOTER)
    return b"".join(parts)
