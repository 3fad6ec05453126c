"""What the render path does beyond a plain WeasyPrint render, checked against that render:
the QR code drawn into its box, the compact sRGB profile, re-subset fonts, the caches.

Real poppler (pdftoppm, pdftotext), real HarfBuzz, real littleCMS (Pillow's ImageCms).
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pikepdf
import pytest
from PIL import Image, ImageChops, ImageCms

from templates import render
from templates.icc import compact_srgb_profile
from templates.pdf_fonts import compact_fonts
from templates.qr import qr_modules
from templates.render import form_html, html_to_pdfa, render_form, sample_data

DOC = "HSBA-72001-2026-000555"
URL = f"http://127.0.0.1:8000/verify/{DOC}"


def _png(pdf: bytes, tmp: Path, dpi: int, crop: tuple[int, int, int, int] | None = None,
         name: str = "p") -> Image.Image:
    src = tmp / f"{name}.pdf"
    src.write_bytes(pdf)
    args = ["pdftoppm", "-png", "-r", str(dpi), "-f", "1", "-l", "1", "-singlefile"]
    if crop:
        args += ["-x", str(crop[0]), "-y", str(crop[1]), "-W", str(crop[2]), "-H", str(crop[3])]
    subprocess.run([*args, str(src), str(tmp / name)], check=True, capture_output=True)
    return Image.open(tmp / f"{name}.png").convert("L")


def _text(pdf: bytes, tmp: Path, name: str) -> str:
    src = tmp / f"{name}.pdf"
    src.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(src), "-"], check=True,
                          capture_output=True, text=True).stdout


def test_qr_code_drawn_module_by_module(tmp_path):
    """Sample the centre of every module of the rendered code at 300 dpi."""
    r = render_form("prescription", sample_data("prescription"), document_id=DOC, verify_url=URL)
    with pikepdf.open(io.BytesIO(r.pdf)) as pdf:
        page_h = float(pdf.pages[0].mediabox[3])
    fh = form_html("prescription", sample_data("prescription"), document_id=DOC,
                   verify_url=URL, qr_placeholder=True)
    _, _, (page, (x1, y1, x2, y2)) = render._weasy_render(fh)
    assert page == 0 and 50 < x2 - x1 < 60  # 19 mm
    assert x2 - x1 == pytest.approx(y2 - y1, abs=0.01)
    dpi = 300
    k = dpi / 72
    left, top = int(x1 * k), int((page_h - y2) * k)
    img = _png(r.pdf, tmp_path, dpi, (left, top, int((x2 - x1) * k) + 2,
                                      int((y2 - y1) * k) + 2))
    matrix = qr_modules(URL)
    n = len(matrix)
    module = (x2 - x1) * k / n
    for row in range(n):
        for col in range(n):
            px = img.getpixel((int((col + 0.5) * module + x1 * k - left),
                               int((row + 0.5) * module + (page_h - y2) * k - top)))
            assert (px < 128) == matrix[row][col], (row, col, px)


def test_plain_html_keeps_an_inline_svg_qr_code():
    fh = form_html("prescription", sample_data("prescription"), document_id=DOC, verify_url=URL)
    assert "data:image/svg+xml;base64," in fh.html and len(fh.html) > 2000
    placeholder = form_html("prescription", sample_data("prescription"), document_id=DOC,
                            verify_url=URL, qr_placeholder=True)
    assert len(placeholder.html) < len(fh.html)


def test_compact_srgb_profile_converts_like_srgb2014():
    """littleCMS: the compact profile and WeasyPrint's sRGB2014 give the same colours."""
    from templates.pdf_finish import _weasyprint_srgb

    compact = ImageCms.ImageCmsProfile(io.BytesIO(compact_srgb_profile()))
    reference = ImageCms.ImageCmsProfile(io.BytesIO(_weasyprint_srgb()))
    assert len(compact_srgb_profile()) < 700
    assert len(_weasyprint_srgb()) > 3000
    values = [(r, g, b) for r in range(0, 256, 15) for g in range(0, 256, 51)
              for b in range(0, 256, 17)]
    img = Image.new("RGB", (len(values), 1))
    img.putdata(values)
    to_reference = ImageCms.buildTransform(compact, reference, "RGB", "RGB", renderingIntent=1)
    out = ImageCms.applyTransform(img, to_reference)
    diff = ImageChops.difference(img, out)
    assert max(hi for _, hi in diff.getextrema()) <= 1


def test_font_compaction_keeps_pixels_text_and_widths(tmp_path):
    fh = form_html("consent_surgery", sample_data("consent_surgery"), document_id=DOC,
                   verify_url=URL)
    raw, _ = html_to_pdfa(fh)
    with pikepdf.open(io.BytesIO(raw)) as pdf:
        before = {str(f.BaseFont): len(f.DescendantFonts[0].FontDescriptor.FontFile2.read_bytes())
                  for f in pdf.pages[0].Resources.Font.values()}
        assert compact_fonts(pdf) == len(before) == 3
        for font in pdf.pages[0].Resources.Font.values():
            cid_font = font.DescendantFonts[0]
            assert cid_font.CIDToGIDMap == pikepdf.Name.Identity  # codes renumbered (issue 12)
            assert len(cid_font.FontDescriptor.FontFile2.read_bytes()) < before[str(font.BaseFont)] / 2
        out = io.BytesIO()
        pdf.save(out, fix_metadata_version=False)
    compacted = out.getvalue()
    a, b = _png(raw, tmp_path, 100, name="a"), _png(compacted, tmp_path, 100, name="b")
    assert ImageChops.difference(a, b).getbbox() is None
    assert _text(raw, tmp_path, "a") == _text(compacted, tmp_path, "b")


def test_output_not_larger_than_plain_weasyprint():
    import weasyprint

    fh = form_html("discharge_paper", sample_data("discharge_paper"), document_id=DOC,
                   verify_url=URL)
    css = render.LAYOUT_CSS.read_text(encoding="utf-8")
    plain = weasyprint.HTML(string=fh.html.replace("</head>", f"<style>{css}</style></head>"))
    hsba = render_form("discharge_paper", sample_data("discharge_paper"), document_id=DOC,
                       verify_url=URL).pdf
    assert len(hsba) <= len(plain.write_pdf())


def _patient(name: str, cccd: str) -> dict:
    data = sample_data("prescription")
    data["patient"] = {**data["patient"], "full_name": name, "cccd": cccd}
    return data


def _page_and_fonts(pdf: bytes) -> tuple[bytes, list[bytes]]:
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        content = doc.pages[0].Contents.read_bytes()
        fonts = sorted(f.DescendantFonts[0].FontDescriptor.FontFile2.read_bytes()
                       for f in doc.pages[0].Resources.Font.values())
    return content, fonts


def test_cached_render_equals_uncached_and_keeps_patients_apart(tmp_path):
    """Render patient A then B with the process caches warm, then B again from cold caches:
    B's page content and font programs are byte-identical, and nothing of A is in B."""
    a = _patient("Trần Thị Ánh Dương", "079301000111")
    b = _patient("Lê Văn Khỏe", "079302000222")
    render_form("prescription", a, document_id="HSBA-A", verify_url="http://x/v/HSBA-A")
    warm = render_form("prescription", b, document_id="HSBA-B", verify_url="http://x/v/HSBA-B")
    render._weasy.cache_clear()
    render._jinja.cache_clear()
    render._layouts.cache_clear()
    cold = render_form("prescription", b, document_id="HSBA-B", verify_url="http://x/v/HSBA-B")
    assert _page_and_fonts(warm.pdf) == _page_and_fonts(cold.pdf)
    text = _text(warm.pdf, tmp_path, "warm")
    assert text == _text(cold.pdf, tmp_path, "cold")
    assert "LÊ VĂN KHỎE" in text
    for leaked in ("Dương", "DƯƠNG", "079301000111", "HSBA-A"):
        assert leaked not in text
        assert leaked.encode("utf-8") not in warm.pdf
    with pikepdf.open(io.BytesIO(warm.pdf)) as pdf:
        data = pdf.attachments["data.json"].get_file().read_bytes().decode("utf-8")
        xmp = pdf.Root.Metadata.read_bytes().decode("utf-8")
    assert "Dương" not in data and "HSBA-A" not in xmp


def _contents(pdf: bytes) -> list[bytes]:
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        return [page.Contents.read_bytes() for page in doc.pages]


@pytest.mark.parametrize("code", ["consent_surgery", "billing_01kbcb", "lab_result",
                                  "treatment_sheet"])
def test_libxml2_parse_lays_out_like_weasyprint_html5_parser(code):
    """The render path parses with lxml (libxml2): same pages as WeasyPrint's own parser."""
    import weasyprint

    from templates.catalogue import FORMS_DIR

    fh = form_html(code, sample_data(code), document_id=DOC, verify_url=URL,
                   qr_placeholder=True)
    cache = render._weasy()
    ours = render.parsed_html(fh.html).render(stylesheets=[cache.css],
                                              font_config=cache.font_config)
    theirs = weasyprint.HTML(string=fh.html, base_url=str(FORMS_DIR)).render(
        stylesheets=[cache.css], font_config=cache.font_config)
    assert len(ours.pages) == len(theirs.pages)
    assert (_contents(ours.write_pdf(uncompressed_pdf=True))
            == _contents(theirs.write_pdf(uncompressed_pdf=True)))


def test_mask_penalty_scores_like_qrcode_and_picks_the_same_mask():
    import qrcode
    import qrcode.util

    from templates.qr import _QRCode, mask_penalty

    def code(cls, url):
        qr = cls(error_correction=qrcode.constants.ERROR_CORRECT_M, border=1)
        qr.add_data(url)
        qr.make(fit=True)
        return qr

    for i in range(12):
        url = f"https://hsba.example.vn/verify/HSBA-72001-2026-{i * 7919:06d}" + "x" * (i * 9)
        assert code(_QRCode, url).get_matrix() == code(qrcode.QRCode, url).get_matrix()
        qr = code(qrcode.QRCode, url)
        for pattern in range(8):
            qr.makeImpl(True, pattern)
            assert mask_penalty(qr.modules) == qrcode.util.lost_point(qr.modules)


def test_characters_no_font_can_print_are_refused_per_field(tmp_path):
    """CJK ideographs are not in any font installed for the forms: a per-field error and
    no file, instead of empty .notdef boxes (forbidden by PDF/A-2/3 6.2.11.8)."""
    from core.errors import InvalidInput
    from templates.pdfa import check_pdfa

    data = sample_data("prescription")
    data["medicines"][1]["directions"] = "Uống sau ăn 漢字"
    with pytest.raises(InvalidInput) as err:
        render_form("prescription", data, document_id=DOC, verify_url=URL)
    assert [d["field"] for d in err.value.details] == ["medicines[1].directions"]
    assert "U+6F22" in err.value.details[0]["message_en"]
    assert "U+6F22" in err.value.details[0]["message_vi"]
    data["medicines"][1]["directions"] = "Uống ≥ 2 lít → ½ viên ✓"  # DejaVu covers these
    r = render_form("prescription", data, document_id=DOC, verify_url=URL)
    assert check_pdfa(r.pdf).verdict == "PASS"
    assert "Uống ≥ 2 lít → ½ viên ✓" in _text(r.pdf, tmp_path, "ok")
