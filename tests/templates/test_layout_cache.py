"""The per-template-version layout cache (templates.layout): same pages as WeasyPrint's own
layout, keyed by template version, bounded, thread-safe, and holding no patient data.

Real WeasyPrint renders throughout; the uncached reference is WeasyPrint's own layout of
the same parsed HTML with the same stylesheet (``render._weasy_render(fh)`` without a
template version).
"""

from __future__ import annotations

import copy
import gc
import io
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pikepdf
import pytest

from templates import catalogue
from templates import render as render_module
from templates.catalogue import form_codes
from templates.layout import LayoutCache
from templates.layout.document import LayoutScope, render_document
from templates.layout.matching import MatchPass, needs_structure
from templates.layout.text import TextPass
from templates.render import form_html, render_form, sample_data

DOC = "HSBA-72001-2026-000777"
URL = f"http://127.0.0.1:8000/verify/{DOC}"
PATIENT_NAME = "Hoàng Thị Khánh Quỳnh"
PATIENT_CCCD = "079305009876"


def _contents(pdf: bytes) -> list[bytes]:
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        return [page.Contents.read_bytes() for page in doc.pages]


def _other_patient(code: str) -> dict[str, Any]:
    """The sample payload with other free text: every multi-word string has its words
    reversed (same schema, other line breaks), and a distinctive patient name / CCCD."""

    def change(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: change(v) for k, v in value.items()}
        if isinstance(value, list):
            return [change(v) for v in value]
        if isinstance(value, str) and " " in value and not value[:1].isdigit():
            return " ".join(word[::-1] for word in value.split(" "))
        return value

    data = change(copy.deepcopy(sample_data(code)))
    data["patient"]["full_name"] = PATIENT_NAME
    if "cccd" in data["patient"]:
        data["patient"]["cccd"] = PATIENT_CCCD
    return data


def _version(code: str) -> catalogue.FormVersion:
    return catalogue.load_form(code)


@pytest.mark.parametrize("code", form_codes())
def test_cached_layout_of_the_sample_is_weasyprints_layout(code: str):
    """Sample data: byte-identical page content, same signature field and QR boxes, first
    (measuring) and later renders alike."""
    fh = form_html(code, sample_data(code), document_id=DOC, verify_url=URL,
                   qr_placeholder=True)
    raw, boxes, qr = render_module._weasy_render(fh)
    for _ in range(2):
        cached_raw, cached_boxes, cached_qr = render_module._weasy_render(fh, _version(code))
        assert _contents(cached_raw) == _contents(raw)
        assert cached_boxes == boxes and cached_qr == qr
    layout = render_module._layouts().version(code, _version(code).info.version)
    assert layout.table_widths, "the version's tables were measured"
    assert len(layout.text) > 0 and len(layout.styles) > 0


def _words(pdf: bytes, tmp_path: Path, name: str) -> list[str]:
    src = tmp_path / f"{name}.pdf"
    src.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(src), "-"], check=True,
                         capture_output=True, text=True).stdout
    return sorted(out.split())


@pytest.mark.parametrize("code", form_codes())
def test_other_patient_data(code: str, tmp_path: Path):
    """Another patient's data (other line breaks).

    - with the version's cached styles, sample matching and line breaks (tables in
      automatic layout): byte-identical to WeasyPrint's layout;
    - through ``render_form`` (tables in the sample's column widths): the same words, the
      same pages, the same signature fields on the same pages, inside the page.
    """
    fv = _version(code)
    render_form(code, sample_data(code), document_id=DOC, verify_url=URL)  # fills the cache
    data = _other_patient(code)
    fh = form_html(code, data, document_id=DOC, verify_url=URL, qr_placeholder=True)
    reference, reference_boxes, _ = render_module._weasy_render(fh)
    layout = render_module._layouts().version(code, fv.info.version)
    cache = render_module._weasy()
    text = TextPass(layout.text, record=False)
    matches = MatchPass(layout.matches, write=False)
    recorded = len(layout.matches)
    with cache.lock:
        document = render_document(render_module.parsed_html(fh.html), [cache.css],
                                   cache.font_config,
                                   LayoutScope(layout.styles, None, text, matches))
        exact = document.write_pdf(pdf_variant="pdf/a-3b", uncompressed_pdf=True)
    assert text.hits > 0, "template text found in the sample's line breaks"
    assert matches.hits > 0, "template elements found in the sample's matching"
    assert len(layout.matches) == recorded, "a patient render writes nothing"
    assert _contents(exact) == _contents(reference)

    rendered = render_form(code, data, document_id=DOC, verify_url=URL)
    assert _words(rendered.pdf, tmp_path, "cached") == _words(reference, tmp_path, "auto")
    assert len(_contents(rendered.pdf)) == len(_contents(reference))
    assert ([(f.name, f.page) for f in rendered.signature_fields]
            == [(f.name, f.page) for f in reference_boxes])
    with pikepdf.open(io.BytesIO(rendered.pdf)) as pdf:
        for field in rendered.signature_fields:
            x1, y1, x2, y2 = field.box
            _, _, width, height = (float(v) for v in pdf.pages[field.page].mediabox)
            assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height


def test_long_table_over_pages_in_sample_columns(tmp_path: Path):
    """40 results (two pages, repeated header row): same pages, words and signature
    fields as WeasyPrint's automatic layout."""
    data = _other_patient("lab_result")
    data["results"] = [copy.deepcopy(data["results"][i % len(data["results"])])
                       for i in range(40)]
    rendered = render_form("lab_result", data, document_id=DOC, verify_url=URL)
    fh = form_html("lab_result", data, document_id=DOC, verify_url=URL, qr_placeholder=True)
    reference, reference_boxes, _ = render_module._weasy_render(fh)
    assert len(_contents(rendered.pdf)) == len(_contents(reference)) == 2
    assert _words(rendered.pdf, tmp_path, "cached") == _words(reference, tmp_path, "auto")
    assert ([(f.name, f.page) for f in rendered.signature_fields]
            == [(f.name, f.page) for f in reference_boxes])
    header = "Trị số tham chiếu"
    for page in range(2):
        src = tmp_path / "cached.pdf"
        text = subprocess.run(["pdftotext", "-f", str(page + 1), "-l", str(page + 1),
                               "-enc", "UTF-8", str(src), "-"], check=True,
                              capture_output=True, text=True).stdout
        assert " ".join(header.split()) in " ".join(text.split())


def test_version_without_usable_sample_renders_without_a_record(monkeypatch):
    """A version whose sample payload does not validate: nothing recorded, the render is
    WeasyPrint's layout."""
    code = "treatment_sheet"
    fh = form_html(code, sample_data(code), document_id=DOC, verify_url=URL,
                   qr_placeholder=True)
    render_module._layouts().clear()
    monkeypatch.setattr(catalogue, "sample_payload", lambda *_: {"patient": {}})
    cached = render_module._weasy_render(fh, _version(code))
    assert _contents(cached[0]) == _contents(render_module._weasy_render(fh)[0])
    layout = render_module._layouts().version(code, _version(code).info.version)
    assert layout.table_widths == {} and len(layout.text) == 0 and len(layout.matches) == 0
    render_module._layouts().clear()


def test_data_wider_than_the_sample_columns_gets_automatic_table_layout():
    """A result too wide for the sample's 'Kết quả' column: the render notices the overflow
    and lays the document out again like WeasyPrint (byte-identical to it)."""
    data = copy.deepcopy(sample_data("lab_result"))
    data["results"][0]["value"] = "1234567890" * 5
    fv = _version("lab_result")
    render_form("lab_result", sample_data("lab_result"), document_id=DOC, verify_url=URL)
    fh = form_html("lab_result", data, document_id=DOC, verify_url=URL, qr_placeholder=True)
    layout = render_module._layouts().version("lab_result", fv.info.version)
    cache = render_module._weasy()
    from templates.layout.tables import TablePass, overflowing_tables

    tables = TablePass(record=False, widths=layout.table_widths)
    with cache.lock:
        fixed = render_document(render_module.parsed_html(fh.html), [cache.css],
                                cache.font_config, LayoutScope(layout.styles, tables))
    assert tables.applied and overflowing_tables(fixed, tables.applied)
    cached = render_module._weasy_render(fh, fv)
    reference = render_module._weasy_render(fh)
    assert _contents(cached[0]) == _contents(reference[0])
    assert cached[1:] == reference[1:]


def test_layout_cache_is_keyed_by_template_version_and_bounded():
    cache = LayoutCache(max_versions=2)
    a1 = cache.version("consent_surgery", "v1")
    assert cache.version("consent_surgery", "v1") is a1
    a2 = cache.version("consent_surgery", "v2")
    assert a2 is not a1 and a2.styles is not a1.styles and a2.text is not a1.text
    cache.version("consent_surgery", "v1")  # most recently used
    cache.version("prescription", "v1")
    assert cache.keys() == [("consent_surgery", "v1"), ("prescription", "v1")]
    render_form("prescription", sample_data("prescription"), document_id=DOC, verify_url=URL)
    assert ("prescription", "v1") in render_module._layouts()


def test_warm_layout_cache_fills_the_latest_versions():
    render_module._layouts().clear()
    ready = render_module.warm_layout_cache(["prescription", "care_sheet"])
    assert ready == [("prescription", "v1"), ("care_sheet", "v1")]
    for key in ready:
        assert key in render_module._layouts()
        assert render_module._layouts().version(*key).table_widths


def test_warm_layout_cache_skips_versions_already_filled(monkeypatch):
    """Every API app warms the cache at start-up: a filled version is not laid out again."""
    render_module._layouts().clear()
    render_module.warm_layout_cache(["prescription"])
    calls = []
    real = render_module._weasy_render
    monkeypatch.setattr(render_module, "_weasy_render",
                        lambda *a, **k: calls.append(a) or real(*a, **k))
    assert render_module.warm_layout_cache(["prescription", "care_sheet"]) == [
        ("prescription", "v1"), ("care_sheet", "v1")]
    assert len(calls) == 1  # care_sheet only


def test_renders_from_threads_equal_serial_renders():
    """Concurrent first use (the cache is emptied first) and later renders."""
    codes = ["consent_surgery", "lab_result"]
    render_module._layouts().clear()
    jobs = [(code, n) for n in range(2) for code in codes]

    def render(job: tuple[str, int]) -> list[bytes]:
        code, n = job
        return _contents(render_form(code, sample_data(code), document_id=f"{DOC}-{n}",
                                     verify_url=URL).pdf)

    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(render, jobs))
    assert threaded == [render(job) for job in jobs]


def test_layout_cache_holds_no_patient_data():
    """A patient render only reads the version's cache: nothing of the patient is in it,
    and it grows by no record (line breaks, matching, styles)."""
    code = "discharge_paper"
    render_form(code, sample_data(code), document_id=DOC, verify_url=URL)
    layout = render_module._layouts().version(code, _version(code).info.version)
    measured, recorded, styles = len(layout.text), len(layout.matches), len(layout.styles)
    data = _other_patient(code)
    render_form(code, data, document_id="HSBA-PATIENT-1", verify_url=URL)
    assert len(layout.text) == measured
    dump = repr(layout.text._results) + repr(layout.table_widths) + repr(
        [entry.values for entry in layout.styles._entries.values()]) + repr(
        list(layout.matches._entries))
    assert len(layout.matches) == recorded and len(layout.styles) == styles
    for secret in (PATIENT_NAME, PATIENT_NAME.upper(), PATIENT_CCCD, "HSBA-PATIENT-1",
                   data["patient"]["address"]):
        assert secret not in dump


def test_matching_record_refuses_structural_selectors():
    """The matching record assumes selectors see only tag, attributes and ancestors."""
    assert not needs_structure(render_module.LAYOUT_CSS.read_text(encoding="utf-8"))
    for css in ("td + td { color: red }", "tr:first-child td { x: y }", "p ~ p {}",
                "li:nth-child(2n) {}", "div:has(span) {}", "td:empty {}"):
        assert needs_structure(css), css
    assert not needs_structure("@page { @top-center { content: 'a + b' } } table.grid td {}")


def test_other_weasyprint_release_renders_without_the_cache(monkeypatch):
    """The hooks follow WeasyPrint 70's internals: another release gets WeasyPrint's own
    layout (and the installed one is the one they were written for)."""
    import weasyprint

    from templates.layout import supported

    assert supported()
    monkeypatch.setattr(weasyprint, "__version__", "71.0")
    monkeypatch.setattr(render_module, "_layout_cache_supported",
                        render_module._layout_cache_supported.__wrapped__)
    render_module._layouts().clear()
    render_form("prescription", sample_data("prescription"), document_id=DOC, verify_url=URL)
    assert ("prescription", "v1") not in render_module._layouts()


@pytest.mark.parametrize("enabled", [True, False])
def test_render_leaves_the_garbage_collector_as_it_was(enabled: bool):
    if not enabled:
        gc.disable()
    try:
        render_form("discharge_paper", sample_data("discharge_paper"), document_id=DOC,
                    verify_url=URL)
        assert gc.isenabled() is enabled
    finally:
        gc.enable()
