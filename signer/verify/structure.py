"""Byte-level checks of a signed PDF that do not trust the parser's view.

pyHanko reads a file through its cross-reference chain. An attacker can append
bytes that a viewer uses but that chain does not describe (an incremental
update with an empty, hidden or inconsistent cross-reference section, objects
reached only by rebuilding the xref), or bend a signature's /ByteRange. These
checks look at the raw bytes and report what does not add up.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from signer.verify.model import Finding

_EOF_RE = re.compile(rb"%%EOF[ \t\f\0]*(\r\n|\r|\n)?")
_OBJ_RE = re.compile(rb"(?<![0-9])(\d{1,10})[ \t\r\n\f\0]+(\d{1,5})[ \t\r\n\f\0]+obj(?![A-Za-z])")
_HEX_RE = re.compile(rb"<[0-9A-Fa-f \t\r\n\f]*>\Z")
_WS = b" \t\r\n\f\0"


def revision_ends(pdf: bytes) -> list[int]:
    """Offsets just after each ``%%EOF`` marker (and its end-of-line)."""
    return [m.end() for m in _EOF_RE.finditer(pdf)]


@dataclass(frozen=True)
class ByteRangeFacts:
    start: int
    """Offset where the signed data starts (must be 0)."""
    gap: tuple[int, int]
    end: int


def _f(code: str, severity: str, vi: str, en: str) -> Finding:
    return Finding(code, severity, vi, en)  # type: ignore[arg-type]


def check_byte_range(
    pdf: bytes, byte_range: Sequence[int], contents: bytes | None
) -> tuple[ByteRangeFacts | None, list[Finding]]:
    """Check one signature's /ByteRange against the bytes of the file.

    A well-formed range is ``[0, a, b, c]`` whose only gap ``[a, b)`` is exactly
    the hexadecimal /Contents string of that same signature, ending at the end
    of a revision (just after an ``%%EOF``).
    """
    found: list[Finding] = []
    try:
        br = [int(x) for x in byte_range]
    except (TypeError, ValueError):
        br = []
    if len(br) != 4 or any(x < 0 for x in br):
        found.append(_f("byterange.malformed", "fatal",
                        "Vùng ký /ByteRange không phải 4 số không âm.",
                        "The /ByteRange is not four non-negative numbers."))
        return None, found
    a0, l0, a1, l1 = br
    facts = ByteRangeFacts(a0, (a0 + l0, a1), a1 + l1)
    if a0 != 0:
        found.append(_f("byterange.not_at_start", "fatal",
                        "Vùng ký không bắt đầu từ đầu tệp.",
                        "The signed range does not start at the beginning of the file."))
    if a1 < a0 + l0:
        found.append(_f("byterange.overlap", "fatal",
                        "Hai đoạn của vùng ký chồng lên nhau.",
                        "The two parts of the signed range overlap."))
        return facts, found
    if facts.end > len(pdf):
        found.append(_f("byterange.beyond_eof", "fatal",
                        "Vùng ký vượt quá cuối tệp.",
                        "The signed range goes past the end of the file."))
        return facts, found
    gap = pdf[a0 + l0 : a1]
    if not _HEX_RE.match(gap) or not gap.startswith(b"<"):
        found.append(_f("byterange.gap_not_contents", "fatal",
                        "Phần không được ký không đúng là chuỗi /Contents của chữ ký: có dữ liệu nằm ngoài vùng ký.",
                        "The unsigned gap is not exactly the signature's /Contents string: data lies outside the signed ranges."))
    elif contents is not None:
        hexdigits = gap[1:-1].translate(None, _WS)
        try:
            gap_bytes = bytes.fromhex(hexdigits.decode("ascii"))
        except ValueError:
            gap_bytes = b""
        if gap_bytes.rstrip(b"\0") != contents.rstrip(b"\0"):
            found.append(_f("byterange.contents_elsewhere", "fatal",
                            "Giá trị /Contents của chữ ký không nằm trong khoảng trống của vùng ký (tấn công bọc chữ ký).",
                            "The signature's /Contents is not the string in the ByteRange gap (signature wrapping)."))
    ends = revision_ends(pdf)
    if facts.end not in ends and not any(
        facts.end <= e and pdf[facts.end : e].strip(_WS) == b"" for e in ends
    ) and pdf[facts.end - 5 : facts.end] != b"%%EOF":
        found.append(_f("byterange.not_revision_end", "fatal",
                        "Vùng ký không kết thúc ở cuối một phiên bản của tệp.",
                        "The signed range does not end at the end of a file revision."))
    return facts, found


def check_nesting(ranges: Iterable[tuple[str, ByteRangeFacts]]) -> dict[str, Finding]:
    """Each later signature must cover every earlier signed revision whole."""
    out: dict[str, Finding] = {}
    items = sorted(ranges, key=lambda kv: kv[1].end)
    for i, (name, later) in enumerate(items):
        for _, earlier in items[:i]:
            if earlier.end <= later.end and later.gap[0] < earlier.end:
                out[name] = _f("byterange.gap_inside_earlier", "fatal",
                               "Khoảng trống của chữ ký nằm trong vùng đã ký của chữ ký trước đó.",
                               "This signature's gap lies inside an earlier signature's signed range.")
    return out


def unregistered_objects(
    pdf: bytes, after: int, registered_offsets: set[int]
) -> list[int]:
    """Offsets of ``N G obj`` headers after ``after`` that no cross-reference
    section points to. Viewers that rebuild the xref would still show them."""
    missing = []
    for m in _OBJ_RE.finditer(pdf, after):
        p = m.start()
        # Tolerate producers whose offsets point at the whitespace just before
        # the object header (common off-by-one), never at other content.
        if not any(o in registered_offsets and pdf[o:p].strip(_WS) == b""
                   for o in range(max(0, p - 4), p + 1)):
            missing.append(p)
    return missing


def trailing_garbage(pdf: bytes) -> bool:
    """True if non-whitespace bytes follow the last ``%%EOF``."""
    ends = revision_ends(pdf)
    if not ends:
        return False
    return pdf[ends[-1] :].strip(_WS) != b""


def tail_findings(pdf: bytes, signed_end: int, registered_offsets: set[int],
                  revisions_after: int) -> list[Finding]:
    """Findings about bytes appended after the earliest signed revision."""
    found: list[Finding] = []
    missing = unregistered_objects(pdf, signed_end, registered_offsets)
    if missing:
        found.append(_f("xref.hidden_objects", "modified",
                        f"Có {len(missing)} đối tượng PDF được thêm sau khi ký nhưng không có trong bảng tham chiếu chéo (xref rỗng, ẩn hoặc không nhất quán): trình xem có thể hiển thị chúng.",
                        f"{len(missing)} PDF object(s) were appended after signing without being listed in any cross-reference section (empty, hidden or inconsistent xref): viewers may display them."))
    tail = pdf[signed_end:]
    eofs_in_tail = len(revision_ends(tail))
    if eofs_in_tail > revisions_after:
        found.append(_f("xref.unchained_revision", "modified",
                        "Có phiên bản được nối thêm sau khi ký nhưng không nằm trong chuỗi tham chiếu chéo.",
                        "A revision was appended after signing outside the cross-reference chain."))
    if trailing_garbage(pdf):
        found.append(_f("file.trailing_data", "modified",
                        "Có dữ liệu sau dấu kết thúc tệp %%EOF cuối cùng.",
                        "There is data after the last %%EOF marker."))
    return found


def _der_ok(data: bytes, pos: int, end: int, depth: int) -> bool:
    """Walk TLVs: definite, minimally encoded lengths that nest exactly,
    minimal INTEGERs, canonical BOOLEANs (the DER rules forgers break)."""
    if depth > 64:
        return False
    while pos < end:
        tag = data[pos]
        pos += 1
        if tag & 0x1F == 0x1F:  # high tag number form
            while pos < end and data[pos] & 0x80:
                pos += 1
            pos += 1
        if pos >= end:
            return False
        first = data[pos]
        pos += 1
        if first < 0x80:
            length = first
        elif first == 0x80 or first == 0xFF:
            return False  # indefinite length (BER) or reserved
        else:
            n = first & 0x7F
            if n > 4 or pos + n > end or data[pos] == 0:
                return False
            length = int.from_bytes(data[pos:pos + n], "big")
            pos += n
            if length < 0x80:
                return False  # long form where the short form fits
        if pos + length > end:
            return False
        if tag & 0x20 and not _der_ok(data, pos, pos + length, depth + 1):
            return False
        if tag == 0x02 and length > 1 and (
            (data[pos] == 0 and data[pos + 1] < 0x80) or (data[pos] == 0xFF and data[pos + 1] >= 0x80)
        ):
            return False  # INTEGER not minimally encoded
        if tag == 0x01 and (length != 1 or data[pos] not in (0, 0xFF)):
            return False  # BOOLEAN must be 00 or FF
        pos += length
    return pos == end


def cms_der_finding(contents: bytes) -> Finding | None:
    """ISO 32000 asks for a DER-encoded signature container. A BER or
    non-minimal encoding lets two parsers read different things."""
    from asn1crypto import parser

    try:
        _, _, _, header, body, trailer = parser.parse(contents)
        if _der_ok(contents, 0, len(header) + len(body) + len(trailer), 0):
            return None
    except ValueError:  # unparseable counts as not DER
        pass
    return _f("cms.not_der", "fatal",
              "Khối chữ ký CMS không được mã hóa DER đúng chuẩn (dị dạng).",
              "The CMS signature container is not DER-encoded (malformed).")
