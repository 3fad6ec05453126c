"""Fixtures for the form library tests: every form rendered once from its sample data.

The PDFs and first-page PNGs are kept under ``artifacts/forms/`` (gitignored) so a person
can look at them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from templates.catalogue import form_codes
from templates.render import RenderedForm, render_form, sample_data

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
DOCUMENT_ID = "HSBA-72001-2026-000123"
VERIFY_URL = f"http://127.0.0.1:8000/verify/{DOCUMENT_ID}"
FORM_CODES = form_codes()


@pytest.fixture(scope="session")
def rendered_forms() -> dict[str, RenderedForm]:
    from templates.preview import page_png

    out_dir = ARTIFACTS / "forms"
    out_dir.mkdir(parents=True, exist_ok=True)
    forms = {}
    for code in FORM_CODES:
        r = render_form(code, sample_data(code), document_id=DOCUMENT_ID, verify_url=VERIFY_URL)
        (out_dir / f"{code}.pdf").write_bytes(r.pdf)
        (out_dir / f"{code}.png").write_bytes(page_png(r.pdf, 0, 80))
        forms[code] = r
    return forms


@pytest.fixture
def form_pdf_path(tmp_path: Path, rendered_forms: dict[str, RenderedForm]):
    def _path(code: str) -> Path:
        p = tmp_path / f"{code}.pdf"
        p.write_bytes(rendered_forms[code].pdf)
        return p
    return _path
