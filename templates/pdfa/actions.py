"""Actions and JavaScript (ISO 19005-1 6.6, 19005-2/3 6.5)."""

from __future__ import annotations

import pikepdf

from templates.pdfa.report import Inspection
from templates.pdfa.walk import all_dicts

_FORBIDDEN = {"/Launch", "/Sound", "/Movie", "/ResetForm", "/ImportData", "/JavaScript",
              "/Hide", "/SetOCGState", "/Rendition", "/Trans", "/GoTo3DView", "/SetState",
              "/NoOp", "/GoToE"}
_FORBIDDEN_1 = _FORBIDDEN | set()
_NAMED_OK = {"/NextPage", "/PrevPage", "/FirstPage", "/LastPage"}


def check_actions(ins: Inspection) -> None:
    c_act = {1: "6.6.1", 2: "6.5.1"}
    c_aa = {1: "6.6.2", 2: "6.5.2"}
    root = ins.pdf.Root
    names = root.get("/Names")
    if isinstance(names, pikepdf.Dictionary) and "/JavaScript" in names:
        ins.fail(c_act, "The document name tree has JavaScript.")
    if "/AA" in root:
        ins.fail(c_aa, "The catalog has an additional-actions (AA) dictionary.")
    for d in all_dicts(ins.pdf):
        s = d.get("/S")
        if d.get("/Type") == "/Action" or (s is not None and isinstance(s, pikepdf.Name)
                                           and ("/Next" in d or "/JS" in d or "/F" in d
                                                or "/D" in d or "/N" in d or "/URI" in d)):
            name = str(s)
            if name in _FORBIDDEN:
                ins.fail(c_act, f"Forbidden action type {name}.")
            elif name == "/Named" and str(d.get("/N")) not in _NAMED_OK:
                ins.fail(c_act, f"Forbidden named action {d.get('/N')}.")
        if "/AA" in d and (d.get("/Type") in ("/Page", "/Annot") or "/Subtype" in d
                           or "/FT" in d or "/T" in d):
            ins.fail(c_aa, "An additional-actions (AA) dictionary is present.")
        if d.get("/Subtype") == "/Widget" and "/A" in d:
            ins.fail({1: "6.9", 2: "6.4.1"}, "A widget annotation has an action (A).")


RULES = (check_actions,)
