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
