"""Transparency (ISO 19005-1 6.4 forbids it; 19005-2/3 6.2.10 constrains it)."""

from __future__ import annotations

import pikepdf

from templates.pdfa.report import Inspection
from templates.pdfa.walk import all_dicts

_BLEND = {"/Normal", "/Compatible", "/Multiply", "/Screen", "/Overlay", "/Darken", "/Lighten",
          "/ColorDodge", "/ColorBurn", "/HardLight", "/SoftLight", "/Difference", "/Exclusion",
          "/Hue", "/Saturation", "/Color", "/Luminosity"}


def check_transparency(ins: Inspection) -> None:
    for d in all_dicts(ins.pdf):
        bm = d.get("/BM")
        if bm is not None:
            names = [str(x) for x in bm] if isinstance(bm, pikepdf.Array) else [str(bm)]
            for name in names:
                if ins.part == 1 and name not in ("/Normal", "/Compatible"):
                    ins.fail("6.4", f"Blend mode {name} is forbidden in PDF/A-1.")
                elif name not in _BLEND:
                    ins.fail("6.2.10", f"Blend mode {name} is not a standard blend mode.")
        if ins.part != 1:
            continue
        smask = d.get("/SMask")
        if smask is not None and str(smask) != "/None":
            ins.fail("6.4", "Soft mask (SMask) is forbidden in PDF/A-1.")
        group = d.get("/Group")
        if isinstance(group, pikepdf.Dictionary) and group.get("/S") == "/Transparency":
            ins.fail("6.4", "Transparency group is forbidden in PDF/A-1.")
        for key in ("/CA", "/ca"):
            v = d.get(key)
            if v is not None and d.get("/Type") != "/Annot" and "/Subtype" not in d:
                try:
                    if float(v) != 1.0:
                        ins.fail("6.4", f"Constant opacity {key} other than 1.0.")
                except (TypeError, ValueError):
                    pass
    if ins.part >= 2:
        _check_blending_spaces(ins)


_DEVICE_NEEDS = {"/DeviceRGB": "RGB", "/DeviceCMYK": "CMYK"}
_OPAQUE_BLEND = ("/Normal", "/Compatible")


def _check_blending_spaces(ins: Inspection) -> None:
    """PDF/A-2/3 6.2.10: a device blending colour space must match the output intent;
    a page with transparency and no PDF/A output intent needs a page group with CS."""
    from templates.pdfa.colour import output_intent_space

    intent = output_intent_space(ins)
    for d in all_dicts(ins.pdf):
        if d.get("/S") != "/Transparency" or "/CS" not in d:
            continue
        cs = d.get("/CS")
        name = str(cs) if isinstance(cs, pikepdf.Name) else (
            str(cs[0]) if isinstance(cs, pikepdf.Array) and len(cs) == 1 else "")
        if name in _DEVICE_NEEDS and intent != _DEVICE_NEEDS[name]:
            ins.fail("6.2.10", f"Transparency group blends in {name[1:]} but the output intent "
                               f"is {intent or 'absent'}.")
        elif name == "/DeviceGray" and intent is None:
            ins.fail("6.2.10", "Transparency group blends in DeviceGray without an output intent.")
    if intent is not None:
        return
    for page in ins.pdf.pages:
        group = page.obj.get("/Group")
        if isinstance(group, pikepdf.Dictionary) and "/CS" in group:
            continue
        if _page_has_transparency(page.obj):
            ins.fail("6.2.10", "A page uses transparency, has no group colour space and the "
                               "file has no PDF/A output intent.")


def _is_transparent_state(gs: object) -> bool:
    if not isinstance(gs, pikepdf.Dictionary):
        return False
    for key in ("/CA", "/ca"):
        v = gs.get(key)
        try:
            if v is not None and float(v) != 1.0:
                return True
        except (TypeError, ValueError):
            pass
    smask = gs.get("/SMask")
    if smask is not None and smask != "/None":
        return True
    bm = gs.get("/BM")
    names = [str(x) for x in bm] if isinstance(bm, pikepdf.Array) else [str(bm)] if bm else []
    return any(n not in _OPAQUE_BLEND for n in names)


def _page_has_transparency(page: pikepdf.Dictionary, limit: int = 2000) -> bool:
    """Transparency anywhere the page draws: its resources, form and image XObjects,
    patterns, Type 3 fonts, annotation appearances (bounded walk)."""
    stack: list[object] = [page]
    for annot in page.get("/Annots", []) if isinstance(page.get("/Annots"), pikepdf.Array) else []:
        ap = annot.get("/AP") if isinstance(annot, pikepdf.Dictionary) else None
        if isinstance(ap, pikepdf.Dictionary):
            for v in ap.values():
                stack.extend([v] if isinstance(v, pikepdf.Stream) else
                             list(v.values()) if isinstance(v, pikepdf.Dictionary) else [])
    seen: set[tuple[int, int]] = set()
    count = 0
    while stack and count < limit:
        obj = stack.pop()
        count += 1
        if isinstance(obj, pikepdf.Object) and obj.is_indirect:
            if obj.objgen in seen:
                continue
            seen.add(obj.objgen)
        d = obj.stream_dict if isinstance(obj, pikepdf.Stream) else obj
        if not isinstance(d, pikepdf.Dictionary):
            continue
        if d is not page:
            group = d.get("/Group")
            if isinstance(group, pikepdf.Dictionary) and group.get("/S") == "/Transparency":
                return True
            smask = d.get("/SMask")
            if d.get("/Subtype") == "/Image" and smask is not None and smask != "/None":
                return True
        res = d.get("/Resources")
        if not isinstance(res, pikepdf.Dictionary):
            continue
        states = res.get("/ExtGState")
        if isinstance(states, pikepdf.Dictionary) and any(
                _is_transparent_state(gs) for gs in states.values()):
            return True
        for category in ("/XObject", "/Pattern", "/Font"):
            sub = res.get(category)
            if isinstance(sub, pikepdf.Dictionary):
                stack.extend(v for v in sub.values()
                             if category != "/Font" or (isinstance(v, pikepdf.Dictionary)
                                                        and v.get("/Subtype") == "/Type3"))
    return False


RULES = (check_transparency,)
