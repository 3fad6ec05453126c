"""File structure (ISO 19005-1 6.1, 19005-2/3 6.1): header, trailer, encryption, streams, filters."""

from __future__ import annotations

import re

import pikepdf

from templates.pdfa.report import Inspection

_HEADER = re.compile(rb"%PDF-(\d)\.(\d)")


def check_header(ins: Inspection) -> None:
    head = ins.raw[:1024]
    if not head.startswith(b"%PDF-"):
        ins.fail({1: "6.1.2", 2: "6.1.2"}, "File header %PDF-n.m is not at byte 0.")
        return
    m = _HEADER.match(head)
    if not m or not re.match(rb"%PDF-\d\.\d(\r\n|\r|\n)", head):
        ins.fail({1: "6.1.2", 2: "6.1.2"}, "File header is not of the form %PDF-1.n.")
    elif ins.part >= 2 and not (m.group(1) == b"1" and b"0" <= m.group(2) <= b"7"):
        ins.fail("6.1.2", "PDF/A-2/3 file header must be %PDF-1.0 to %PDF-1.7.")
    lines = head.split(b"\n", 2) if b"\r" not in head[:20] else re.split(rb"\r\n|\r|\n", head, 2)
    if len(lines) < 2:
        ins.fail({1: "6.1.2", 2: "6.1.2"}, "No binary comment line after the header.")
        return
    comment = lines[1]
    if not (comment.startswith(b"%") and len(comment) >= 5
            and all(b > 127 for b in comment[1:5])):
        ins.fail({1: "6.1.2", 2: "6.1.2"},
                 "The header must be followed by a comment of at least four bytes > 127.")


def _is_file_identifier(value: object) -> bool:
    return (isinstance(value, pikepdf.Array) and len(value) == 2
            and all(isinstance(v, pikepdf.String) and len(bytes(v)) > 0 for v in value))


def check_trailer(ins: Inspection) -> None:
    trailer = ins.pdf.trailer
    if "/ID" not in trailer:
        ins.fail({1: "6.1.3", 2: "6.1.3"}, "The trailer has no ID entry.")
    elif not _is_file_identifier(trailer.ID):
        ins.fail({1: "6.1.3", 2: "6.1.3"},
                 "The trailer ID is not a file identifier (ISO 32000-1 14.4: an array of "
                 "two non-empty byte strings).")
    if "/Encrypt" in trailer or ins.pdf.is_encrypted:
        ins.fail({1: "6.1.3", 2: "6.1.3"}, "The file is encrypted (Encrypt in trailer).")
    tail = ins.raw[-1024:].rstrip(b"\r\n \x00")
    if not tail.endswith(b"%%EOF"):
        ins.fail({1: "6.1.3", 2: "6.1.3"}, "Data follows the last %%EOF marker.")


def check_streams(ins: Inspection) -> None:
    """Stream dictionaries: no external file keys; LZW forbidden (2/3); known filters only."""
    allowed = {"/ASCIIHexDecode", "/ASCII85Decode", "/FlateDecode", "/RunLengthDecode",
               "/CCITTFaxDecode", "/JBIG2Decode", "/DCTDecode", "/JPXDecode", "/Crypt",
               "/LZWDecode"}
    for obj in ins.pdf.objects:
        if not isinstance(obj, pikepdf.Stream):
            continue
        d = obj.stream_dict
        for key in ("/F", "/FFilter", "/FDecodeParms"):
            if key in d:
                ins.fail({1: "6.1.7", 2: "6.1.7.1"},
                         f"A stream dictionary has the {key} key (external stream data).")
        filters = d.get("/Filter")
        names = ([str(f) for f in filters] if isinstance(filters, pikepdf.Array)
                 else [str(filters)] if filters is not None else [])
        for name in names:
            if name in ("/LZWDecode", "/LZW"):
                ins.fail({1: "6.1.10", 2: "6.1.7.2"}, "LZWDecode filter is forbidden.")
            elif name == "/Crypt" and ins.part >= 2:
                ins.fail("6.1.7.2", "Crypt filter is forbidden.")
            elif name not in allowed:
                ins.fail({1: "6.1.10", 2: "6.1.7.2"}, f"Non-standard stream filter {name}.")


def check_permissions(ins: Inspection) -> None:
    perms = ins.pdf.Root.get("/Perms")
    if perms is not None and ins.part >= 2:
        for key in perms.keys():  # noqa: SIM118 (pikepdf Dictionary)
            if key not in ("/DocMDP", "/UR3"):
                ins.fail("6.1.12", f"Perms dictionary has {key} (only DocMDP and UR3 allowed).")


def check_signature_references(ins: Inspection) -> None:
    """6.1.12 (PDF/A-2/3): signature references carry no DigestLocation/Method/Value."""
    if ins.part < 2:
        return
    for obj in ins.pdf.objects:
        if not isinstance(obj, pikepdf.Dictionary):
            continue
        refs = obj.get("/Reference")
        if not isinstance(refs, pikepdf.Array):
            continue
        for ref in refs:
            if isinstance(ref, pikepdf.Dictionary) and any(
                    k in ref for k in ("/DigestLocation", "/DigestMethod", "/DigestValue")):
                ins.fail("6.1.12", "A signature reference has DigestLocation, DigestMethod "
                                   "or DigestValue.")


def check_optional_content(ins: Inspection) -> None:
    ocp = ins.pdf.Root.get("/OCProperties")
    if ocp is None:
        return
    if ins.part == 1:
        ins.fail("6.1.13", "Optional content (OCProperties) is forbidden in PDF/A-1.")
        return
    configs = [ocp.get("/D")] + list(ocp.get("/Configs", []))
    for cfg in configs:
        if cfg is None:
            continue
        if "/Name" not in cfg:
            ins.fail("6.9", "Optional content configuration dictionary without Name.")
        if "/AS" in cfg:
            ins.fail("6.9", "Optional content configuration dictionary has an AS key.")


def check_catalog(ins: Inspection) -> None:
    root = ins.pdf.Root
    if ins.part >= 2 and "/AcroForm" in root and root.AcroForm.get("/NeedAppearances") is True:
        ins.fail("6.4.1", "AcroForm NeedAppearances is true.")
    if ins.part >= 2 and "/AcroForm" in root and "/XFA" in root.AcroForm:
        ins.fail("6.4.2", "The AcroForm has an XFA entry.")
    if ins.part >= 2 and "/NeedsRendering" in root and root.NeedsRendering is True:
        ins.fail("6.4.2", "The catalog has NeedsRendering true.")
    if ins.part == 1 and "/AcroForm" in root and root.AcroForm.get("/NeedAppearances") is True:
        ins.fail("6.9", "AcroForm NeedAppearances is true.")


RULES = (check_header, check_trailer, check_streams, check_permissions, check_signature_references,
         check_optional_content, check_catalog)


def check_limits(ins: Inspection) -> None:
    """Implementation limits (PDF/A-1 6.1.12, PDF/A-2/3 6.1.13)."""
    clause = {1: "6.1.12", 2: "6.1.13"}
    from templates.pdfa.walk import all_objects

    for obj in all_objects(ins.pdf):
        if isinstance(obj, int) and not isinstance(obj, bool) and not (
                -2147483648 <= obj <= 2147483647):
            ins.fail(clause, f"Integer {obj} outside the 32-bit range.")
        elif isinstance(obj, float) and abs(obj) > 3.403e38:
            ins.fail(clause, "Real number beyond ±3.403 × 10^38.")
        elif isinstance(obj, pikepdf.String) and len(bytes(obj)) > 32767:
            ins.fail(clause, "String longer than 32767 bytes.")
        elif isinstance(obj, pikepdf.Name) and len(str(obj).encode("utf-8")) - 1 > 127:
            ins.fail(clause, "Name longer than 127 bytes.")
        elif isinstance(obj, pikepdf.Array) and len(obj) >= 2 and obj[0] == "/DeviceN" \
                and isinstance(obj[1], pikepdf.Array) and len(obj[1]) > 32:
            ins.fail(clause, "DeviceN colour space with more than 32 colorants.")
    if len(ins.pdf.objects) > 8388607:
        ins.fail(clause, "More than 8388607 indirect objects.")
    for page in ins.pdf.pages:
        for key in ("/MediaBox", "/CropBox", "/BleedBox", "/TrimBox", "/ArtBox"):
            box = page.obj.get(key)
            if isinstance(box, pikepdf.Array) and len(box) == 4:
                try:
                    x1, y1, x2, y2 = (float(v) for v in box)
                except (TypeError, ValueError):
                    continue
                if ins.part >= 2 and not (3 <= abs(x2 - x1) <= 14400
                                          and 3 <= abs(y2 - y1) <= 14400):
                    ins.fail(clause, f"Page {key[1:]} size outside 3..14400 units.")
        depth = 0
        try:
            ops = pikepdf.parse_content_stream(page)
        except (pikepdf.PdfError, TypeError, ValueError):
            continue
        for item in ops:
            op = str(getattr(item, "operator", ""))
            if op == "q":
                depth += 1
                if depth > 28:
                    ins.fail(clause, "Graphics state nesting (q) deeper than 28.")
                    break
            elif op == "Q":
                depth -= 1


RULES = (*RULES, check_limits)
