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
    if ins.part >= 2 and ins.pdf.Root.get("/OutputIntents") is None:
        for page in ins.pdf.pages:
            group = page.obj.get("/Group")
            if isinstance(group, pikepdf.Dictionary) and group.get("/S") == "/Transparency" \
                    and "/CS" not in group:
                ins.fail("6.2.10", "Transparency group without CS and no output intent.")


RULES = (check_transparency,)
