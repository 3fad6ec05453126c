"""Bytes a rendered form keeps for 10-30 years (issue 12, size): the XMP packet is
Flate-compressed (PDF/A-3 allows it), the empty signature fields share one appearance
stream per size, and WeasyPrint's six-decimal coordinates are rounded to three; the form
stays PDF/A PASS, reads and draws the same.

Real WeasyPrint, pikepdf, poppler (pdftoppm, pdftotext) and hsba's PDF/A checker.
"""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import pikepdf
import pytest
from fontTools.ttLib import TTFont
from PIL import Image, ImageChops

from templates.pdf_finish import _round_coordinates
from templates.pdfa import check_pdfa
from templates.render import render_form, sample_data

DOC = "HSBA-72001-2026-000777"
URL = f"http://127.0.0.1:8000/verify/{DOC}"


def _consent() -> bytes:
    return render_form("consent_surgery", sample_data("consent_surgery"), document_id=DOC,
                       verify_url=URL).pdf


def test_xmp_is_compressed_and_the_form_is_still_pdfa() -> None:
    pdf = _consent()
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        meta = doc.Root.Metadata
        assert meta.Type == "/Metadata" and meta.Subtype == "/XML"
        assert meta.Filter == "/FlateDecode"
        xmp = meta.read_bytes()
        assert len(meta.read_raw_bytes()) < len(xmp) / 2
        assert b"<pdfaid:part>3</pdfaid:part>" in xmp
        assert f"<hsba:DocumentId>{DOC}<".encode() in xmp
        with doc.open_metadata() as m:  # pikepdf (and any XMP reader) decodes it
            assert m["dc:identifier"] == DOC
    assert b"/SubtypX" not in pdf
    report = check_pdfa(pdf)
    assert report.verdict == "PASS", report.failures


def test_empty_signature_fields_of_one_size_share_one_appearance() -> None:
    r = render_form("consent_surgery", sample_data("consent_surgery"), document_id=DOC,
                    verify_url=URL)
    sizes = {(round(s.box[2] - s.box[0], 2), round(s.box[3] - s.box[1], 2))
             for s in r.signature_fields}
    with pikepdf.open(io.BytesIO(r.pdf)) as doc:
        widgets = [a for a in doc.pages[0].Annots if a.get("/FT") == "/Sig"]
        appearances = {w.AP.N.objgen for w in widgets}
        assert len(widgets) == len(r.signature_fields) > len(sizes) == len(appearances)
        for w in widgets:
            bbox = [float(v) for v in w.AP.N.BBox]
            rect = [float(v) for v in w.Rect]
            assert abs(bbox[2] - (rect[2] - rect[0])) < 0.01
            assert abs(bbox[3] - (rect[3] - rect[1])) < 0.01


def test_coordinates_rounded_only_where_every_number_is_an_operand() -> None:
    assert _round_coordinates(
        b"1 0 0 -1 141.124136 73.637643 Tm /a1.0 gs /F1 13.333008 Tf [<0036>37<003c>] TJ"
        b" -0.0000004 .123456 w 12.99999 5 m") == (
        b"1 0 0 -1 141.124 73.638 Tm /a1.0 gs /F1 13.333 Tf [<0036>37<003c>] TJ"
        b" 0 0.123 w 13 5 m")
    # a literal string or an inline image may hold number-like text: left alone
    for content in (b"(d\xf9ng 1.234567 mg) Tj 1.234567 w",
                    b"BI /W 1 /H 1 ID 1.234567 EI 1.234567 w"):
        assert _round_coordinates(content) == content


def _png(pdf: bytes, tmp: Path, name: str) -> Image.Image:
    (tmp / f"{name}.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "100", "-singlefile", str(tmp / f"{name}.pdf"),
                    str(tmp / name)], check=True, capture_output=True)
    return Image.open(tmp / f"{name}.png").convert("L")


def test_rounded_page_reads_and_draws_like_the_unrounded_page(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Against the same form finished without rounding: same text, and at most
    anti-aliasing differences at a few glyph edges (a 1/2000 px shift can move poppler's
    sub-pixel glyph cache slot), no moved or missing stroke."""
    import templates.pdf_finish as finish

    rounded = _consent()
    with pikepdf.open(io.BytesIO(rounded)) as doc:
        assert not re.search(rb"\d\.\d{4}", doc.pages[0].Contents.read_bytes())
    monkeypatch.setattr(finish, "_round_coordinates", lambda content: content)
    unrounded = _consent()
    assert len(rounded) < len(unrounded)
    text = []
    for name, pdf in (("a", unrounded), ("b", rounded)):
        (tmp_path / f"{name}.pdf").write_bytes(pdf)
        text.append(subprocess.run(["pdftotext", "-enc", "UTF-8", str(tmp_path / f"{name}.pdf"),
                                    "-"], check=True, capture_output=True, text=True).stdout)
    assert text[0] == text[1]
    a, b = _png(unrounded, tmp_path, "a"), _png(rounded, tmp_path, "b")
    diff = list(ImageChops.difference(a, b).get_flattened_data())
    assert sum(1 for v in diff if v) < 0.001 * len(diff)  # a few edge pixels at most
    assert max(diff) <= 96


def test_to_unicode_cmap_round_trip_and_ranges() -> None:
    from templates.tounicode import parse_to_unicode, to_unicode_cmap

    mapping = {3: " ", **{0x44 + k: chr(ord("a") + k) for k in range(26)},
               0x6B1: "ệ", 0x6B2: "ỉ", 0xFE: "x", 0xFF: "y", 0x100: "z",  # 256-block edge
               0x200: "ﬁ"[0] + "i", 0x201: "😀"}
    cmap = to_unicode_cmap(mapping)
    assert parse_to_unicode(cmap) == mapping
    assert b"<0044><005d><0061>" in cmap  # a-z: one range entry
    big = {k: chr(0x4E00 + 2 * k) for k in range(250)}  # no runs: 3 bfchar blocks
    assert parse_to_unicode(to_unicode_cmap(big)) == big
    assert to_unicode_cmap(big).count(b"beginbfchar") == 3
    # WeasyPrint's and pyHanko's own forms
    assert parse_to_unicode(b"2 beginbfchar\n<0003> <0020>\n<06b1> <1ec7>\nendbfchar\n"
                            b"1 beginbfrange\n<0009> <000a> [<0028> <0029>]\nendbfrange") == {
        3: " ", 0x6B1: "ệ", 9: "(", 10: ")"}


def test_renumbering_follows_the_font_through_q_and_q() -> None:
    from templates.pdf_fonts import _renumber_content

    fonts = {"F1": {0x44: 1, 0x45: 2}}
    content = (b"q BT /F1 12 Tf [<00440045>-20<0044>] TJ ET q BT /F2 9 Tf <0044> Tj ET Q"
               b" BT <0045> Tj ET Q BT <0044> Tj ET")
    assert _renumber_content(content, fonts) == (
        b"q BT /F1 12 Tf [<00010002>-20<0001>] TJ ET q BT /F2 9 Tf <0044> Tj ET Q"
        b" BT <0002> Tj ET Q BT <0044> Tj ET")
    assert _renumber_content(b"BT /F1 12 Tf <0046> Tj ET", fonts) is None  # unknown code
    for unsafe in (b"BT /F1 12 Tf (a) Tj ET", b"/P <</MCID 0>> BDC EMC",
                   b"BI /W 1 ID x EI", b"% comment"):
        assert _renumber_content(unsafe, fonts) is None


def test_render_fonts_renumbered_read_and_draw_like_the_mapped_ones(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Codes renumbered to the cut's glyph ids (/CIDToGIDMap /Identity, /W and ToUnicode
    renumbered) against the same cut reached through a /CIDToGIDMap stream: same pixels,
    same text, smaller, PDF/A PASS."""
    from templates import pdf_fonts

    renumbered = _consent()
    with pikepdf.open(io.BytesIO(renumbered)) as doc:
        fonts = list(doc.pages[0].Resources.Font.values())
        assert len(fonts) == 3
        for font in fonts:
            cid_font = font.DescendantFonts[0]
            assert cid_font.CIDToGIDMap == pikepdf.Name.Identity
            program = TTFont(io.BytesIO(cid_font.FontDescriptor.FontFile2.read_bytes()))
            codes = [int(cid_font.W[k]) + len(cid_font.W[k + 1]) - 1
                     for k in range(0, len(cid_font.W), 2)]
            assert int(cid_font.W[0]) == 1 and codes[-1] < program["maxp"].numGlyphs
            assert b"beginbfrange" in font.ToUnicode.read_bytes()
    assert check_pdfa(renumbered).verdict == "PASS"
    monkeypatch.setattr(pdf_fonts, "_renumber_content", lambda content, fonts: None)
    mapped = _consent()
    with pikepdf.open(io.BytesIO(mapped)) as doc:
        assert all(isinstance(f.DescendantFonts[0].CIDToGIDMap, pikepdf.Stream)
                   for f in doc.pages[0].Resources.Font.values())
    assert check_pdfa(mapped).verdict == "PASS"
    assert len(renumbered) < len(mapped) - 600
    texts = []
    for name, pdf in (("a", mapped), ("b", renumbered)):
        (tmp_path / f"{name}.pdf").write_bytes(pdf)
        texts.append(subprocess.run(["pdftotext", "-enc", "UTF-8", str(tmp_path / f"{name}.pdf"),
                                     "-"], check=True, capture_output=True, text=True).stdout)
    assert texts[0] == texts[1] and "Tây Ninh" in texts[1]
    assert ImageChops.difference(_png(mapped, tmp_path, "a"),
                                 _png(renumbered, tmp_path, "b")).getbbox() is None


def test_signing_revisions_rewrite_little() -> None:
    """The catalogue (rewritten once for the DSS) refers to its output intents, a page
    to its annotation array (the document timestamp's widget then rewrites the array,
    not the page), and boxes equal to the media box are left to their default."""
    with pikepdf.open(io.BytesIO(_consent())) as doc:
        assert doc.Root.OutputIntents.is_indirect
        page = doc.pages[0].obj
        assert page.Annots.is_indirect
        for box in ("/CropBox", "/BleedBox", "/TrimBox", "/ArtBox"):
            assert box not in page or list(page[box]) != list(page.MediaBox), box
        assert b"/GTS_PDFA1" not in doc.Root.unparse()  # not inline in the catalogue


def test_installed_font_check_catches_a_glyph_that_draws_another_letter() -> None:
    from templates.font_sources import draws_as_installed
    from templates.tounicode import parse_to_unicode

    with pikepdf.open(io.BytesIO(_consent())) as doc:
        font = next(f for f in doc.pages[0].Resources.Font.values()
                    if "Bold" not in str(f.BaseFont) and "Italic" not in str(f.BaseFont))
        program = font.DescendantFonts[0].FontDescriptor.FontFile2.read_bytes()
        codes = {text: code for code, text in
                 parse_to_unicode(font.ToUnicode.read_bytes()).items()}
    wanted = {c: codes[c] for c in "Ký ngày (GMT+7) Nguyễn"}
    assert draws_as_installed(program, wanted)
    swapped = {**wanted, "n": codes["u"], "u": codes["n"]}
    assert not draws_as_installed(program, swapped)
    assert not draws_as_installed(program[:12] + bytes(len(program) - 12), wanted)
