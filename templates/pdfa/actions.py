"""Actions and JavaScript (ISO 19005-1 6.6, 19005-2/3 6.5)."""

from __future__ import annotations

import pikepdf

from templates.pdfa.report import Inspection
from templates.pdfa.walk import all_dicts

# Allowed action types; everything else (Launch, JavaScript, Sound, Movie, ResetForm,
# ImportData, Hide, SetOCGState, Rendition, Trans, GoTo3DView, undefined types) is refused.
_ALLOWED = {1: {"/GoTo", "/GoToR", "/Thread", "/URI", "/Named", "/SubmitForm"},
            2: {"/GoTo", "/GoToR", "/GoToE", "/Thread", "/URI", "/Named", "/SubmitForm"}}
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
    allowed = _ALLOWED[1 if ins.part == 1 else 2]
    actions: list[pikepdf.Dictionary] = []
    for d in all_dicts(ins.pdf):
        if d.get("/Type") == "/Action":
            actions.append(d)
        for key in ("/A", "/OpenAction", "/Next"):
            v = d.get(key)
            items = list(v) if isinstance(v, pikepdf.Array) else [v]
            actions.extend(x for x in items if isinstance(x, pikepdf.Dictionary) and "/S" in x
                           and (key != "/Next" or d.get("/Type") == "/Action" or "/S" in d))
        aa = d.get("/AA")
        if isinstance(aa, pikepdf.Dictionary):
            actions.extend(x for x in aa.values() if isinstance(x, pikepdf.Dictionary))
        if "/AA" in d and (d.get("/Type") in ("/Page", "/Annot") or "/Subtype" in d
                           or "/FT" in d or "/T" in d):
            ins.fail(c_aa, "An additional-actions (AA) dictionary is present.")
        if d.get("/Subtype") == "/Widget" and "/A" in d:
            ins.fail({1: "6.9", 2: "6.4.1"}, "A widget annotation has an action (A).")
    for action in actions:
        name = str(action.get("/S"))
        if name not in allowed:
            ins.fail(c_act, f"Forbidden action type {name}.")
        elif name == "/Named" and str(action.get("/N")) not in _NAMED_OK:
            ins.fail(c_act, f"Forbidden named action {action.get('/N')}.")


RULES = (check_actions,)
