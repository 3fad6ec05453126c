"""The PDF/A checker: it catches what rendering and signing can break, and it agrees with
the veraPDF corpus (expected result in each file name) on the files it gives a verdict on."""

from __future__ import annotations

import collections
import io
import json
from pathlib import Path

import pikepdf
import pytest

from api.cli import main as hsba
from templates.pdfa import check_pdfa, target_clause
from templates.render import render_form, sample_data
from tests.shared_data import CORPUS

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture(scope="module")
def form_pdf() -> bytes:
    return render_form("discharge_paper", sample_data("discharge_paper"), document_id="D-1",
                       verify_url="http://127.0.0.1:8000/verify/D-1").pdf


def _mutate(pdf: bytes, change) -> bytes:
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        change(doc)
        out = io.BytesIO()
        doc.save(out, fix_metadata_version=False)
    return out.getvalue()


def _clauses(pdf: bytes) -> set[str]:
    report = check_pdfa(pdf)
    assert report.verdict == "FAIL", report
    return {f.clause for f in report.failures}


def test_own_output_passes(form_pdf):
    assert check_pdfa(form_pdf).verdict == "PASS"


def test_missing_xmp_fails(form_pdf):
    pdf = _mutate(form_pdf, lambda d: d.Root.__delitem__("/Metadata"))
    r = check_pdfa(pdf)
    assert r.verdict == "FAIL" and r.part is None


def test_javascript_and_launch_actions_fail(form_pdf):
    def add_js(d):
        d.Root.OpenAction = d.make_indirect(pikepdf.Dictionary(
            Type=pikepdf.Name.Action, S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)")))
    assert "6.5.1" in _clauses(_mutate(form_pdf, add_js))

    def add_aa(d):
        d.pages[0].obj.AA = pikepdf.Dictionary(O=pikepdf.Dictionary(
            S=pikepdf.Name.Launch, F=pikepdf.String("calc.exe")))
    assert {"6.5.1", "6.5.2"} <= _clauses(_mutate(form_pdf, add_aa))


def test_hidden_or_unprinted_signature_widget_fails(form_pdf):
    def hide(d):
        d.Root.AcroForm.Fields[0].F = 2
    assert "6.3.2" in _clauses(_mutate(form_pdf, hide))

    def no_ap(d):
        del d.Root.AcroForm.Fields[0]["/AP"]
    assert "6.3.3" in _clauses(_mutate(form_pdf, no_ap))


def test_info_out_of_sync_with_xmp_fails_pdfa1(form_pdf):
    """PDF/A-1 (6.7.3) requires Info/XMP equivalence; checked as if the file were PDF/A-1."""
    def retitle(d):
        d.trailer.Info.Title = pikepdf.String("Tiêu đề khác")
    report = check_pdfa(_mutate(form_pdf, retitle), expected_part=1)
    assert "6.7.3" in {f.clause for f in report.failures}
    assert "6.7.3" not in {f.clause for f in check_pdfa(form_pdf, expected_part=1).failures}


def test_attachment_without_relationship_fails(form_pdf):
    def drop(d):
        del d.Root.AF[0]["/AFRelationship"]
    assert "6.8" in _clauses(_mutate(form_pdf, drop))


def test_empty_file_identifier_fails(form_pdf):
    """6.1.3: the trailer ID must be two non-empty byte strings (veraPDF 6-1-3 t01)."""
    with pikepdf.open(io.BytesIO(form_pdf)) as doc:
        out = io.BytesIO()
        doc.save(out, object_stream_mode=pikepdf.ObjectStreamMode.disable,
                 fix_metadata_version=False)
    raw = out.getvalue()
    start = raw.rindex(b"/ID [")
    end = raw.index(b"]", start) + 1
    emptied = raw[:start] + b"/ID [<><>]" + raw[end:]  # the trailer follows the xref table
    assert "6.1.3" in _clauses(emptied)
    assert check_pdfa(raw).verdict == "PASS"


def test_features_without_implemented_rules_are_not_checked(form_pdf):
    """Found in the file itself, whatever its name: never PASS for what was not checked."""
    def wrong_width(d):
        font = next(iter(d.pages[0].Resources.Font.values())).DescendantFonts[0]
        first = font.W[1]
        first[0] = int(first[0]) + 50
    r = check_pdfa(_mutate(form_pdf, wrong_width))
    assert r.verdict == "NOT_CHECKED" and any("6.2.11.5" in n for n in r.not_checked)

    def inline_image(d):
        d.pages[0].contents_add(d.make_stream(b"q 1 0 0 1 0 0 cm BI /W 1 /H 1 /CS /G /BPC 8 "
                                              b"ID \x80 EI Q"))
    r = check_pdfa(_mutate(form_pdf, inline_image))
    assert r.verdict == "NOT_CHECKED" and any("inline images" in n for n in r.not_checked)
    assert check_pdfa(form_pdf).not_checked == []


def test_transparency_blending_space_must_match_the_output_intent(form_pdf):
    """6.2.10 (PDF/A-2/3): a CMYK page group with an sRGB output intent; transparency on a
    page with neither a PDF/A output intent nor a page group colour space."""
    def cmyk_group(d):
        d.pages[0].obj.Group = pikepdf.Dictionary(S=pikepdf.Name.Transparency,
                                                  CS=pikepdf.Name.DeviceCMYK)
    assert "6.2.10" in _clauses(_mutate(form_pdf, cmyk_group))

    def half_opacity_without_intent(d):
        del d.Root["/OutputIntents"]
        d.pages[0].Resources.ExtGState.a1.ca = 0.5
    assert "6.2.10" in _clauses(_mutate(form_pdf, half_opacity_without_intent))


def test_transfer_functions_and_halftones_fail(form_pdf):
    """6.2.5: no TR in an ExtGState; halftones of type 1 or 5, without HalftoneName."""
    def transfer(d):
        d.pages[0].Resources.ExtGState.a1.TR = pikepdf.Name.Identity
    assert "6.2.5" in _clauses(_mutate(form_pdf, transfer))

    def halftone(d):
        d.pages[0].Resources.ExtGState.a1.HT = pikepdf.Dictionary(
            Type=pikepdf.Name.Halftone, HalftoneType=6, HalftoneName=pikepdf.String("x"))
    report = check_pdfa(_mutate(form_pdf, halftone))
    assert [f.clause for f in report.failures] == ["6.2.5", "6.2.5"]


def test_encryption_fails(form_pdf):
    with pikepdf.open(io.BytesIO(form_pdf)) as doc:
        out = io.BytesIO()
        doc.save(out, encryption=pikepdf.Encryption(owner="o", user="", R=6))
    assert "6.1.3" in _clauses(out.getvalue())


def test_unembedded_font_fails(form_pdf):
    def strip(d):
        for obj in d.objects:
            if isinstance(obj, pikepdf.Dictionary) and obj.get("/Type") == "/FontDescriptor":
                for k in ("/FontFile", "/FontFile2", "/FontFile3"):
                    if k in obj:
                        del obj[k]
    assert "6.2.11.4.1" in _clauses(_mutate(form_pdf, strip))


def test_undeclared_xmp_property_fails(form_pdf):
    def extra(d):
        xmp = d.Root.Metadata.read_bytes().replace(
            b"<hsba:FormCode>", b"<hsba:Undeclared>x</hsba:Undeclared><hsba:FormCode>")
        d.Root.Metadata.write(xmp)
    assert "6.6.2.3.1" in _clauses(_mutate(form_pdf, extra))


def test_not_a_pdfa_claim_fails_and_garbage_fails():
    plain = pikepdf.new()
    plain.add_blank_page()
    buf = io.BytesIO()
    plain.save(buf)
    r = check_pdfa(buf.getvalue())
    assert r.verdict == "FAIL" and "does not claim PDF/A" in r.failures[0].message
    assert check_pdfa(b"not a pdf at all").verdict == "FAIL"


def test_target_clause_from_test_suite_names():
    assert target_clause("2b_6-2-4-3-t01-fail-a.pdf") == "6.2.4.3"
    assert target_clause("PDF_A-1b_6-1-3-t01-pass-a.pdf") == "6.1.3"
    assert target_clause("discharge.pdf") is None


def test_cli_exit_codes(tmp_path, form_pdf, capsys):
    good = tmp_path / "good.pdf"
    good.write_bytes(form_pdf)
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(form_pdf.replace(b"%PDF-1.7\n", b"%PDF-1.7 \n", 1))
    assert hsba(["pdfa", "check", str(good)]) == 0
    assert "PASS" in capsys.readouterr().out
    assert hsba(["pdfa", "check", str(good), str(bad), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out[str(bad)]["verdict"] == "FAIL"
    assert hsba(["pdfa", "check", str(tmp_path / "missing.pdf")]) == 2


def _corpus_files() -> list[tuple[Path, str]]:
    files = []
    for folder in ("verapdf", "pdfa"):
        for f in sorted((CORPUS / folder).glob("*.pdf")):
            files.append((f, "PASS" if "-pass-" in f.name else "FAIL"))
    return files


def test_corpus_agreement():
    """≥ 95 % agreement among files given a verdict, verdict on ≥ 60 % of files."""
    assert (CORPUS / "verapdf").is_dir(), f"external corpus not found at {CORPUS}"
    rows = []
    for path, expected in _corpus_files():
        r = check_pdfa(path)
        rows.append({"file": path.name, "expected": expected, "verdict": r.verdict,
                     "failures": [f"{f.clause}: {f.message}" for f in r.failures][:5]})
    judged = [r for r in rows if r["verdict"] != "NOT_CHECKED"]
    agree = sum(r["verdict"] == r["expected"] for r in judged)
    fail_called_pass = [r["file"] for r in judged if r["expected"] == "FAIL" and r["verdict"] == "PASS"]
    pass_called_fail = [r["file"] for r in judged if r["expected"] == "PASS" and r["verdict"] == "FAIL"]
    counts = collections.Counter((r["expected"], r["verdict"]) for r in rows)
    summary = {
        "files": len(rows), "with_verdict": len(judged), "agree": agree,
        "agreement": round(agree / len(judged), 4), "coverage": round(len(judged) / len(rows), 4),
        "FAIL_called_PASS": len(fail_called_pass), "PASS_called_FAIL": len(pass_called_fail),
        "counts": {f"{e}->{v}": n for (e, v), n in sorted(counts.items())},
        "FAIL_called_PASS_files": fail_called_pass, "PASS_called_FAIL_files": pass_called_fail,
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "pdfa-corpus.json").write_text(
        json.dumps({"summary": summary, "rows": rows}, indent=1, ensure_ascii=False))
    print("\nPDF/A corpus:", json.dumps({k: v for k, v in summary.items()
                                         if not k.endswith("_files")}, ensure_ascii=False))
    print("FAIL files called PASS:", len(fail_called_pass), fail_called_pass)
    print("PASS files called FAIL:", len(pass_called_fail), pass_called_fail)
    assert len(rows) >= 400
    assert summary["coverage"] >= 0.60
    assert summary["agreement"] >= 0.95
    assert not fail_called_pass, "non-conforming files called PASS (the worst error)"
