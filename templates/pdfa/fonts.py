"""Fonts (ISO 19005-1 6.3, 19005-2/3 6.2.11): embedding, composite-font consistency."""

from __future__ import annotations

import pikepdf

from templates.pdfa.report import Inspection
from templates.pdfa.walk import font_dicts

_PREDEFINED_CMAP_PREFIXES = ("Identity-", "GB", "UniGB", "B5", "ETen", "HKscs", "UniCNS",
                             "CNS", "83pv", "90", "Add-", "Ext-", "H", "V", "RKSJ", "EUC",
                             "UniJIS", "KSC", "UniKS", "78", "Hankaku", "Hiragana", "Katakana",
                             "Roman", "WP-")


def _embedded(descriptor: object) -> bool:
    return isinstance(descriptor, pikepdf.Dictionary) and any(
        isinstance(descriptor.get(k), pikepdf.Stream)
        for k in ("/FontFile", "/FontFile2", "/FontFile3"))


def check_fonts(ins: Inspection) -> None:
    c_emb = {1: "6.3.4", 2: "6.2.11.4.1"}
    for font in font_dicts(ins.pdf):
        sub = str(font.get("/Subtype", ""))
        name = str(font.get("/BaseFont", "(unnamed)"))
        if sub == "/Type3":
            continue
        if sub == "/Type0":
            _check_type0(ins, font, name)
            desc = font.get("/DescendantFonts")
            if isinstance(desc, pikepdf.Array) and len(desc) and isinstance(
                    desc[0], pikepdf.Dictionary):
                if not _embedded(desc[0].get("/FontDescriptor")):
                    ins.fail(c_emb, f"Font {name} is not embedded.")
            else:
                ins.fail({1: "6.3.3.1", 2: "6.2.11.3.1"}, f"Type0 font {name} has no descendant.")
            continue
        if not _embedded(font.get("/FontDescriptor")):
            ins.fail(c_emb, f"Font {name} is not embedded.")


def _check_type0(ins: Inspection, font: pikepdf.Dictionary, name: str) -> None:
    desc = font.get("/DescendantFonts")
    cid = desc[0] if isinstance(desc, pikepdf.Array) and len(desc) else None
    if not isinstance(cid, pikepdf.Dictionary):
        return
    if cid.get("/Subtype") == "/CIDFontType2":
        c2g = cid.get("/CIDToGIDMap")
        if c2g is None or (isinstance(c2g, pikepdf.Name) and c2g != "/Identity"):
            ins.fail({1: "6.3.3.2", 2: "6.2.11.3.2"},
                     f"CIDFontType2 {name} lacks a valid CIDToGIDMap (Identity or a stream).")
    enc = font.get("/Encoding")
    c_cmap = {1: "6.3.3.3", 2: "6.2.11.3.3"}
    if isinstance(enc, pikepdf.Name):
        if not str(enc)[1:].startswith(_PREDEFINED_CMAP_PREFIXES):
            ins.fail(c_cmap, f"Font {name} uses a CMap {enc} that is neither predefined "
                             "nor embedded.")
        return
    if isinstance(enc, pikepdf.Stream):
        csi_cmap = enc.stream_dict.get("/CIDSystemInfo")
        csi_font = cid.get("/CIDSystemInfo")
        if (isinstance(csi_cmap, pikepdf.Dictionary) and isinstance(csi_font, pikepdf.Dictionary)
                and (str(csi_cmap.get("/Registry")) != str(csi_font.get("/Registry"))
                     or str(csi_cmap.get("/Ordering")) != str(csi_font.get("/Ordering")))):
            ins.fail({1: "6.3.3.1", 2: "6.2.11.3.1"},
                     f"Font {name}: CIDSystemInfo of CMap and CIDFont differ.")
        usecmap = enc.stream_dict.get("/UseCMap")
        if isinstance(usecmap, pikepdf.Name) and not str(usecmap)[1:].startswith(
                _PREDEFINED_CMAP_PREFIXES):
            ins.fail(c_cmap, f"Font {name}: UseCMap {usecmap} is not predefined.")
        wmode = enc.stream_dict.get("/WMode")
        if wmode is not None and int(wmode) not in (0, 1):
            ins.fail(c_cmap, f"Font {name}: invalid CMap WMode.")
    elif enc is None:
        ins.fail(c_cmap, f"Type0 font {name} has no Encoding (CMap).")


RULES = (check_fonts,)
