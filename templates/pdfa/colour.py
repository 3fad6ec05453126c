"""Output intent and colour spaces (ISO 19005-1 6.2.2-6.2.3, 19005-2/3 6.2.2-6.2.4)."""

from __future__ import annotations

import pikepdf

from templates.pdfa.report import Inspection

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
        if oi.get("/S") == "/GTS_PDFA1" and not isinstance(prof, pikepdf.Stream):
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


def _space_of(cs: object, resources: pikepdf.Dictionary | None, depth: int = 0
              ) -> str | None:
    """Device family of a colour space operand or entry, resolving resource names and the
    base of an Indexed space."""
    if depth > 4:
        return None
    if isinstance(cs, pikepdf.Name):
        if str(cs) in _DEVICE:
            return _DEVICE[str(cs)]
        named = resources.get("/ColorSpace") if isinstance(resources, pikepdf.Dictionary) \
            else None
        if isinstance(named, pikepdf.Dictionary) and str(cs) in named:
            return _space_of(named[str(cs)], resources, depth + 1)
        return None
    if isinstance(cs, pikepdf.Array) and len(cs) >= 2 and str(cs[0]) in ("/Indexed", "/I"):
        return _space_of(cs[1], resources, depth + 1)
    return None


def _defaults(res: pikepdf.Dictionary | None) -> set[str]:
    named = res.get("/ColorSpace") if res is not None else None
    if not isinstance(named, pikepdf.Dictionary):
        return set()
    return {space for key, space in (("/DefaultRGB", "RGB"), ("/DefaultCMYK", "CMYK"),
                                     ("/DefaultGray", "Gray")) if key in named}


def _content_spaces(ins: Inspection) -> set[str]:
    """Device colour spaces actually painted with: page and annotation appearance content,
    following ``Do`` into form XObjects and images, patterns and Type3 glyphs (unused
    resources do not count; a Default colour space in the same resources covers its use)."""
    used: set[str] = set()
    seen: set[tuple[int, int]] = set()
    budget = [3000]

    def run(content: pikepdf.Object, resources: object) -> None:
        if budget[0] <= 0:
            return
        budget[0] -= 1
        res = resources if isinstance(resources, pikepdf.Dictionary) else None
        covered = _defaults(res)

        def use(space: str | None) -> None:
            if space and space not in covered:
                used.add(space)

        def sub(obj: object, own_res: object) -> None:
            if isinstance(obj, pikepdf.Stream) and obj.objgen not in seen:
                seen.add(obj.objgen)
                run(obj, own_res if isinstance(own_res, pikepdf.Dictionary) else res)

        def shading_space(sh: object) -> None:
            d = sh.stream_dict if isinstance(sh, pikepdf.Stream) else sh
            if isinstance(d, pikepdf.Dictionary):
                use(_space_of(d.get("/ColorSpace"), res))

        def lookup(category: str, name: object) -> object:
            table = res.get(category) if res is not None else None
            return table.get(str(name)) if isinstance(table, pikepdf.Dictionary) else None

        try:
            ops = pikepdf.parse_content_stream(content)
        except (pikepdf.PdfError, TypeError, ValueError):
            return
        for item in ops:
            if isinstance(item, pikepdf.ContentStreamInlineImage):
                cs = item.iimage.obj.get("/ColorSpace")
                if cs is not None:
                    use(_space_of(cs, res))
                continue
            op, args = str(item.operator), item.operands
            if op in _OPS:
                use(_OPS[op])
            elif op in ("cs", "CS") and args:
                use(_space_of(args[0], res))
            elif op in ("scn", "SCN") and args and isinstance(args[-1], pikepdf.Name):
                pattern = lookup("/Pattern", args[-1])
                if isinstance(pattern, pikepdf.Stream):
                    sub(pattern, pattern.stream_dict.get("/Resources"))
                elif isinstance(pattern, pikepdf.Dictionary) and "/Shading" in pattern:
                    shading_space(pattern.Shading)
            elif op == "sh" and args:
                shading_space(lookup("/Shading", args[0]))
            elif op == "Tf" and args:
                font = lookup("/Font", args[0])
                if isinstance(font, pikepdf.Dictionary) and font.get("/Subtype") == "/Type3":
                    procs = font.get("/CharProcs")
                    for proc in procs.values() if isinstance(procs, pikepdf.Dictionary) else []:
                        sub(proc, font.get("/Resources"))
            elif op == "Do" and args:
                x = lookup("/XObject", args[0])
                if not isinstance(x, pikepdf.Stream):
                    continue
                d = x.stream_dict
                if d.get("/Subtype") == "/Image" and not d.get("/ImageMask", False):
                    use(_space_of(d.get("/ColorSpace"), res))
                elif d.get("/Subtype") == "/Form":
                    sub(x, d.get("/Resources"))

    for page in ins.pdf.pages:
        run(page.obj, page.obj.get("/Resources"))
        annots = page.obj.get("/Annots")
        for annot in annots if isinstance(annots, pikepdf.Array) else []:
            ap = annot.get("/AP") if isinstance(annot, pikepdf.Dictionary) else None
            n = ap.get("/N") if isinstance(ap, pikepdf.Dictionary) else None
            streams = [n] if isinstance(n, pikepdf.Stream) else (
                [v for v in n.values() if isinstance(v, pikepdf.Stream)]
                if isinstance(n, pikepdf.Dictionary) else [])
            for st in streams:
                run(st, st.stream_dict.get("/Resources"))
    return used


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
