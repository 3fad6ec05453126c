"""Output intent and colour spaces (ISO 19005-1 6.2.2-6.2.3, 19005-2/3 6.2.2-6.2.4)."""

from __future__ import annotations

import pikepdf

from templates.pdfa.report import Inspection
from templates.pdfa.walk import resource_dicts

_OPS = {"rg": "RGB", "RG": "RGB", "k": "CMYK", "K": "CMYK", "g": "Gray", "G": "Gray"}
_DEVICE = {"/DeviceRGB": "RGB", "/RGB": "RGB", "/DeviceCMYK": "CMYK", "/CMYK": "CMYK",
           "/DeviceGray": "Gray", "/G": "Gray"}


def output_intent_space(ins: Inspection) -> str | None:
    """Colour space of the PDF/A output intent's ICC profile (RGB, CMYK, GRAY) or None."""
    intents = ins.pdf.Root.get("/OutputIntents")
    if not isinstance(intents, pikepdf.Array):
        return None
    for oi in intents:
        if isinstance(oi, pikepdf.Dictionary) and oi.get("/S") == "/GTS_PDFA1":
            prof = oi.get("/DestOutputProfile")
            if isinstance(prof, pikepdf.Stream):
                try:
                    head = prof.read_bytes()[:20]
                except pikepdf.PdfError:
                    return None
                return head[16:20].decode("latin-1").strip().upper()
    return None


def check_output_intent(ins: Inspection) -> None:
    c = {1: "6.2.2", 2: "6.2.2"}
    intents = ins.pdf.Root.get("/OutputIntents")
    if intents is None:
        return
    profiles = []
    for oi in intents if isinstance(intents, pikepdf.Array) else []:
        if not isinstance(oi, pikepdf.Dictionary):
            continue
        prof = oi.get("/DestOutputProfile")
        if oi.get("/S") == "/GTS_PDFA1":
            if not isinstance(prof, pikepdf.Stream):
                ins.fail(c, "The PDF/A output intent has no DestOutputProfile.")
                continue
        if isinstance(prof, pikepdf.Stream):
            profiles.append(prof)
            data = prof.read_bytes()
            if len(data) < 128:
                ins.fail(c, "The output intent ICC profile is truncated.")
                continue
            cls = data[12:16]
            space = data[16:20].strip().upper()
            major = data[8]
            if cls not in (b"prtr", b"mntr"):
                ins.fail(c, f"Output intent ICC profile class {cls!r} is not prtr or mntr.")
            if (ins.part == 1 and major >= 4) or major > 4:
                ins.fail(c, f"Output intent ICC profile version {major} is too recent.")
            n = prof.stream_dict.get("/N")
            expected = {b"RGB": 3, b"CMYK": 4, b"GRAY": 1}.get(space)
            if n is not None and expected is not None and int(n) != expected:
                ins.fail(c, "Output intent ICC profile N does not match its colour space.")
    if ins.part >= 2 and len({p.objgen if p.is_indirect else id(p) for p in profiles}) > 1:
        ins.fail("6.2.2", "Several output intents with different DestOutputProfiles.")


def _content_spaces(ins: Inspection) -> set[str]:
    used: set[str] = set()
    defaults: set[str] = set()
    streams: list[pikepdf.Object] = [p.obj for p in ins.pdf.pages]
    for res in resource_dicts(ins.pdf):
        xo = res.get("/XObject")
        if isinstance(xo, pikepdf.Dictionary):
            for x in xo.values():
                if isinstance(x, pikepdf.Stream):
                    if x.stream_dict.get("/Subtype") == "/Form":
                        streams.append(x)
                    elif x.stream_dict.get("/Subtype") == "/Image" and not x.stream_dict.get(
                            "/ImageMask", False):
                        cs = x.stream_dict.get("/ColorSpace")
                        if str(cs) in _DEVICE:
                            used.add(_DEVICE[str(cs)])
        cs_dict = res.get("/ColorSpace")
        if isinstance(cs_dict, pikepdf.Dictionary):
            for default, space in (("/DefaultRGB", "RGB"), ("/DefaultCMYK", "CMYK"),
                                   ("/DefaultGray", "Gray")):
                if default in cs_dict:
                    defaults.add(space)
        sh = res.get("/Shading")
        if isinstance(sh, pikepdf.Dictionary):
            for s in sh.values():
                d = s.stream_dict if isinstance(s, pikepdf.Stream) else s
                if isinstance(d, pikepdf.Dictionary) and str(d.get("/ColorSpace")) in _DEVICE:
                    used.add(_DEVICE[str(d.get("/ColorSpace"))])
    for obj in streams[:2000]:
        try:
            ops = pikepdf.parse_content_stream(obj)
        except (pikepdf.PdfError, TypeError, ValueError):
            continue
        for item in ops:
            if isinstance(item, pikepdf.ContentStreamInlineImage):
                cs = item.iimage.obj.get("/ColorSpace") if hasattr(item, "iimage") else None
                if cs is not None and str(cs) in _DEVICE:
                    used.add(_DEVICE[str(cs)])
                continue
            op = str(item.operator)
            if op in _OPS:
                used.add(_OPS[op])
            elif op in ("cs", "CS") and item.operands and str(item.operands[0]) in _DEVICE:
                used.add(_DEVICE[str(item.operands[0])])
    return used - defaults


def check_device_colours(ins: Inspection) -> None:
    c = {1: "6.2.3.3", 2: "6.2.4.3"}
    intent = output_intent_space(ins)
    for space in sorted(_content_spaces(ins)):
        if space == "Gray":
            if intent is None and ins.part >= 2:
                ins.fail(c, "DeviceGray used without a PDF/A output intent.")
            continue
        if intent is None:
            ins.fail(c, f"Device{space} used without a PDF/A output intent.")
        elif intent != space:
            ins.fail(c, f"Device{space} used but the output intent profile is {intent}.")


RULES = (check_output_intent, check_device_colours)
