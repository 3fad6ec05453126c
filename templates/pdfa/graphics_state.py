"""Extended graphics state and halftones (ISO 19005-2/3 6.2.5; PDF/A-1 6.2.8)."""

from __future__ import annotations

import pikepdf

from templates.pdfa.report import Inspection
from templates.pdfa.walk import all_dicts

# Process colorants of ISO 19005-2 6.2.5 (veraPDF counts Red, Green, Blue as non-primary).
_PRIMARY = {"/Cyan", "/Magenta", "/Yellow", "/Black", "/Default"}


def _check_halftone(ins: Inspection, ht: object, clause: dict[int, str], depth: int = 0) -> None:
    d = ht.stream_dict if isinstance(ht, pikepdf.Stream) else ht
    if not isinstance(d, pikepdf.Dictionary) or depth > 2:
        return
    kind = d.get("/HalftoneType")
    if ins.part >= 2 and kind is not None and int(kind) not in (1, 5):
        ins.fail(clause, f"Halftone type {int(kind)} (only 1 or 5 are allowed).")
    if ins.part >= 2 and "/HalftoneName" in d:
        ins.fail(clause, "A halftone dictionary has a HalftoneName key.")
    if kind is not None and int(kind) == 5:
        for key, sub in d.items():
            sub_d = sub.stream_dict if isinstance(sub, pikepdf.Stream) else sub
            if key in ("/Type", "/HalftoneType", "/HalftoneName") or not isinstance(
                    sub_d, pikepdf.Dictionary):
                continue
            if ins.part >= 2 and key not in _PRIMARY and "/TransferFunction" not in sub_d:
                ins.fail(clause, f"Halftone for the non-primary colorant {key[1:]} has no "
                                 "TransferFunction.")
            _check_halftone(ins, sub, clause, depth + 1)


def check_graphics_states(ins: Inspection) -> None:
    clause = {1: "6.2.8", 2: "6.2.5"}
    for d in all_dicts(ins.pdf):
        if d.get("/Type") != "/ExtGState" and not any(
                k in d for k in ("/TR", "/TR2", "/HT")):
            continue
        if "/TR" in d:
            ins.fail(clause, "An ExtGState has a transfer function (TR).")
        tr2 = d.get("/TR2")
        if tr2 is not None and tr2 != "/Default":
            ins.fail(clause, "An ExtGState has a TR2 other than Default.")
        if "/HT" in d:
            _check_halftone(ins, d.get("/HT"), clause)


RULES = (check_graphics_states,)
