"""Embedded files (ISO 19005-1 6.1.11, 19005-2 6.8, 19005-3 6.8): attachments and AF."""

from __future__ import annotations

import pikepdf

from templates.pdfa.report import Inspection
from templates.pdfa.walk import all_dicts

_RELATIONSHIPS = {"/Source", "/Data", "/Alternative", "/Supplement", "/Unspecified"}


def _filespecs(pdf: pikepdf.Pdf) -> list[pikepdf.Dictionary]:
    return [d for d in all_dicts(pdf)
            if isinstance(d, pikepdf.Dictionary) and "/EF" in d
            and (d.get("/Type") == "/Filespec" or "/F" in d or "/UF" in d)]


def check_embedded_files(ins: Inspection) -> None:
    specs = _filespecs(ins.pdf)
    names = ins.pdf.Root.get("/Names")
    has_tree = isinstance(names, pikepdf.Dictionary) and "/EmbeddedFiles" in names
    if ins.part == 1:
        if specs or has_tree:
            ins.fail("6.1.11", "Embedded files are forbidden in PDF/A-1.")
        return
    if ins.part == 2:
        if specs:
            # Only PDF/A files may be embedded: telling whether one is takes a full check.
            ins.not_checked.add("6.8")
        return
    af_refs: set[tuple[int, int]] = set()
    for d in all_dicts(ins.pdf):
        af = d.get("/AF") if isinstance(d, pikepdf.Dictionary) else None
        if isinstance(af, pikepdf.Array):
            af_refs.update(x.objgen for x in af if isinstance(x, pikepdf.Object) and x.is_indirect)
    for spec in specs:
        if "/F" not in spec or "/UF" not in spec:
            ins.fail("6.8", "Embedded file specification lacks F or UF.")
        rel = spec.get("/AFRelationship")
        if rel is None or str(rel) not in _RELATIONSHIPS:
            ins.fail("6.8", "Embedded file specification lacks a valid AFRelationship.")
        if spec.is_indirect and spec.objgen not in af_refs:
            ins.fail("6.8", "Embedded file is not associated (AF) with the document or a part.")
        ef = spec.get("/EF")
        stream = ef.get("/F") if isinstance(ef, pikepdf.Dictionary) else None
        if not isinstance(stream, pikepdf.Stream) or "/Subtype" not in stream.stream_dict:
            ins.fail("6.8", "Embedded file stream lacks a MIME Subtype.")
        elif isinstance(stream, pikepdf.Stream):
            params = stream.stream_dict.get("/Params")
            if not isinstance(params, pikepdf.Dictionary) or "/ModDate" not in params:
                ins.fail("6.8", "Embedded file stream Params lacks ModDate.")


RULES = (check_embedded_files,)
