"""Every form renders from its sample data to a PDF/A-3b that hsba's checker passes, with
embedded fonts, exact NFC Vietnamese text, data.json round-tripping and signature fields."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import unicodedata

import pikepdf
import pytest

from templates.catalogue import form_codes, list_forms, load_form
from templates.pdfa import check_pdfa
from templates.render import sample_data

DOCUMENT_ID = "HSBA-72001-2026-000123"
FORM_CODES = form_codes()


def test_catalogue_has_the_eleven_contract_forms():
    codes = {f.code for f in list_forms()}
    assert codes == {"consent_surgery", "drug_disclosure", "billing_01kbcb", "discharge_paper",
                     "record_summary", "lab_result", "treatment_sheet", "care_sheet",
                     "outpatient_record_15bv1", "inpatient_record_01bv1", "prescription"}
    for f in list_forms():
        assert f.title_vi and f.title_en and f.signature_fields


@pytest.mark.parametrize("code", FORM_CODES)
def test_form_passes_pdfa_check(code, rendered_forms):
    report = check_pdfa(rendered_forms[code].pdf)
    assert report.verdict == "PASS", report.failures
    assert (report.part, report.conformance) == (3, "B")


@pytest.mark.parametrize("code", FORM_CODES)
def test_every_font_embedded(code, form_pdf_path):
    out = subprocess.run(["pdffonts", str(form_pdf_path(code))], capture_output=True,
                         text=True, check=True).stdout.splitlines()[2:]
    assert out, "no fonts listed"
    for line in out:
        assert line.split()[-5] == "yes", line  # the emb column


def _norm_ws(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("code", FORM_CODES)
def test_pdftotext_gives_back_nfc_vietnamese(code, form_pdf_path):
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(form_pdf_path(code)), "-"],
                          capture_output=True, text=True, check=True).stdout
    assert unicodedata.is_normalized("NFC", text)
    flat = _norm_ws(text)
    data = sample_data(code)
    for expected in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc",
                     data["patient"]["full_name"].upper(), data["facility"]["name"].upper(),
                     load_form(code).meta["heading_vi"].upper()):
        assert _norm_ws(unicodedata.normalize("NFC", expected)) in flat, expected
    if code != "treatment_sheet":  # its entries carry dd/mm/yyyy in the table instead
        assert "ngày" in flat and "tháng" in flat and "năm" in flat
    assert "Trang 1/" in flat


@pytest.mark.parametrize("code", FORM_CODES)
def test_data_json_round_trips(code, rendered_forms):
    r = rendered_forms[code]
    with pikepdf.open(io.BytesIO(r.pdf)) as pdf:
        assert list(pdf.attachments) == ["data.json"]
        spec = pdf.attachments["data.json"]
        raw = spec.get_file().read_bytes()
        filespec = pdf.Root.AF[0]
        assert len(pdf.Root.AF) == 1
        assert filespec.AFRelationship == pikepdf.Name.Data
        assert filespec.EF.F.Subtype == pikepdf.Name("/application/json")
    assert hashlib.sha256(raw).hexdigest() == r.data_sha256
    assert json.loads(raw) == sample_data(code)


@pytest.mark.parametrize("code", FORM_CODES)
def test_signature_fields_named_and_placed(code, rendered_forms):
    r = rendered_forms[code]
    names = [s.name for s in r.signature_fields]
    assert len(set(names)) == len(names) and names
    declared = set(load_form(code).info.signature_fields)
    assert {s.role for s in r.signature_fields} <= declared
    with pikepdf.open(io.BytesIO(r.pdf)) as pdf:
        fields = {str(f.T): f for f in pdf.Root.AcroForm.Fields}
        assert set(fields) == set(names)
        for spec in r.signature_fields:
            f = fields[spec.name]
            assert f.FT == pikepdf.Name.Sig and "/V" not in f  # empty
            assert int(f.F) & 4  # print flag
            assert isinstance(f.AP.N, pikepdf.Stream)
            page = pdf.pages[spec.page]
            assert any(a.objgen == f.objgen for a in page.Annots)
            assert [round(float(v), 2) for v in f.Rect] == list(spec.box)
            x1, y1, x2, y2 = spec.box
            w, h = float(page.mediabox[2]), float(page.mediabox[3])
            assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h
            assert 100 < x2 - x1 < 200 and 35 < y2 - y1 < 80  # the block's 56x22 / 40x14 mm box


def test_treatment_sheet_signs_each_entry(rendered_forms):
    r = rendered_forms["treatment_sheet"]
    n = len(sample_data("treatment_sheet")["entries"])
    assert [s.name for s in r.signature_fields] == [f"doctor_{i}" for i in range(1, n + 1)]
    assert {s.role for s in r.signature_fields} == {"doctor"}


@pytest.mark.parametrize("code", FORM_CODES)
def test_xmp_identifies_form(code, rendered_forms):
    r = rendered_forms[code]
    with pikepdf.open(io.BytesIO(r.pdf)) as pdf:
        xmp = pdf.Root.Metadata.read_bytes().decode("utf-8")
        assert pdf.Root.Metadata.Filter == "/FlateDecode"  # PDF/A-3 allows it (issue 12)
        assert len(pdf.trailer.ID) == 2
    for needle in (f"<hsba:FormCode>{code}</hsba:FormCode>", "<hsba:FormVersion>v1<",
                   f"<hsba:DocumentId>{DOCUMENT_ID}<", "<rdf:li>vi</rdf:li>",
                   "<pdfaid:part>3</pdfaid:part>", load_form(code).info.title_vi):
        assert needle in xmp, needle


def test_lab_result_shows_patient_identity_on_every_page(tmp_path):
    from templates.render import render_form

    data = sample_data("lab_result")
    data["results"] = data["results"] * 8  # forces several pages
    r = render_form("lab_result", data, document_id=DOCUMENT_ID, verify_url="http://x/v")
    p = tmp_path / "lab.pdf"
    p.write_bytes(r.pdf)
    with pikepdf.open(p) as pdf:
        pages = len(pdf.pages)
    assert pages >= 2
    for i in range(1, pages + 1):
        text = subprocess.run(["pdftotext", "-f", str(i), "-l", str(i), str(p), "-"],
                              capture_output=True, text=True, check=True).stdout
        assert "Người bệnh: Nguyễn Thị Hồng Nhung" in text
        assert "Tên xét nghiệm" in text  # the table header repeats
        assert f"Trang {i}/{pages}" in text
    assert check_pdfa(r.pdf).verdict == "PASS"


def test_decomposed_input_is_normalised_to_nfc():
    from templates.render import render_form

    data = sample_data("prescription")
    data["patient"]["full_name"] = unicodedata.normalize("NFD", "Lê Thị Ánh Tuyết")
    r = render_form("prescription", data, document_id=DOCUMENT_ID, verify_url="http://x/v")
    with pikepdf.open(io.BytesIO(r.pdf)) as pdf:
        embedded = json.loads(pdf.attachments["data.json"].get_file().read_bytes())
    assert embedded["patient"]["full_name"] == "Lê Thị Ánh Tuyết"
    assert unicodedata.is_normalized("NFC", embedded["patient"]["full_name"])
