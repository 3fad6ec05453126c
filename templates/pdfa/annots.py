"""Annotations (ISO 19005-1 6.5, 19005-2/3 6.3): types, flags, appearance streams."""

from __future__ import annotations

import pikepdf

from templates.pdfa.report import Inspection

_ALLOWED_1 = {"/Text", "/Link", "/FreeText", "/Line", "/Square", "/Circle", "/Highlight",
              "/Underline", "/Squiggly", "/StrikeOut", "/Stamp", "/Ink", "/Popup", "/Widget",
              "/PrinterMark", "/TrapNet"}
_ALLOWED_2 = _ALLOWED_1 | {"/Polygon", "/PolyLine", "/Caret", "/FileAttachment",
                           "/Redact", "/Watermark"}
_FORBIDDEN = {"/3D", "/Sound", "/Screen", "/Movie", "/RichMedia"}
INVISIBLE, HIDDEN, PRINT, NOVIEW, TOGGLE = 1, 2, 4, 32, 256


def _annots(pdf: pikepdf.Pdf) -> list[pikepdf.Dictionary]:
    out: list[pikepdf.Dictionary] = []
    for page in pdf.pages:
        annots = page.obj.get("/Annots")
        if isinstance(annots, pikepdf.Array):
            out.extend(a for a in annots if isinstance(a, pikepdf.Dictionary))
    return out


def check_annotations(ins: Inspection) -> None:
    c_type = {1: "6.5.2", 2: "6.3.1"}
    c_flag = {1: "6.5.3", 2: "6.3.2"}
    c_ap = {1: "6.5.3", 2: "6.3.3"}
    allowed = _ALLOWED_1 if ins.part == 1 else _ALLOWED_2
    for a in _annots(ins.pdf):
        sub = str(a.get("/Subtype", ""))
        if sub in _FORBIDDEN or sub not in allowed:
            ins.fail(c_type, f"Annotation type {sub or '(none)'} is not permitted.")
            continue
        if sub != "/Popup":
            flags = int(a.get("/F", 0)) if isinstance(a.get("/F", 0), int) else 0
            if "/F" not in a:
                ins.fail(c_flag, f"{sub} annotation has no F (flags) entry.")
            else:
                if not flags & PRINT:
                    ins.fail(c_flag, f"{sub} annotation lacks the Print flag.")
                if flags & (INVISIBLE | HIDDEN | NOVIEW) or (ins.part >= 2 and flags & TOGGLE):
                    ins.fail(c_flag, f"{sub} annotation is hidden, invisible or NoView.")
        if ins.part == 1 and ("/CA" in a and float(a.CA) != 1.0):
            ins.fail("6.5.3", "Annotation has constant opacity CA other than 1.0.")
        if ins.part >= 2 and ("/C" in a or "/IC" in a):
            pass  # colour against output intent: checked with colour spaces (NOT_CHECKED)
        ap = a.get("/AP")
        rect = a.get("/Rect")
        zero = False
        if isinstance(rect, pikepdf.Array) and len(rect) == 4:
            try:
                r = [float(x) for x in rect]
                zero = r[0] == r[2] or r[1] == r[3]
            except (TypeError, ValueError):
                zero = False
        needs_ap = ins.part >= 2 and sub not in ("/Popup", "/Link") and not zero
        if ap is None:
            if needs_ap or (ins.part == 1 and sub == "/Widget"):
                ins.fail(c_ap, f"{sub} annotation has no appearance dictionary (AP).")
            continue
        if not isinstance(ap, pikepdf.Dictionary):
            ins.fail(c_ap, "AP is not a dictionary.")
            continue
        if ins.part >= 2 and set(ap.keys()) - {"/N"}:
            ins.fail(c_ap, f"{sub} appearance dictionary has entries other than N.")
        n = ap.get("/N")
        if n is None and needs_ap:
            ins.fail(c_ap, f"{sub} appearance dictionary has no normal appearance (N).")
        is_button = a.get("/FT") == "/Btn" or (
            isinstance(a.get("/Parent"), pikepdf.Dictionary) and a.Parent.get("/FT") == "/Btn")
        if n is not None and ins.part >= 2:
            if is_button and not isinstance(n, pikepdf.Stream):
                if not isinstance(n, pikepdf.Dictionary) or not all(
                        isinstance(v, pikepdf.Stream) for v in n.values()):
                    ins.fail(c_ap, "Button appearance N is not a dictionary of streams.")
            elif not is_button and not isinstance(n, pikepdf.Stream):
                ins.fail(c_ap, f"{sub} normal appearance is not a stream.")


RULES = (check_annotations,)
