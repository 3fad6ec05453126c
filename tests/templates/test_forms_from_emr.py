"""Every form renders from EMR data (emr.forms_data on a migrated, seeded SQLite records
database) and passes the PDF/A check; the embedded data.json is the EMR payload."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pikepdf
import pytest
from sqlalchemy.orm import Session

from archive.db import make_engine, upgrade
from emr.forms_data import form_data_for
from emr.seed import DemoIds, seed_demo
from templates.catalogue import form_codes
from templates.pdfa import check_pdfa
from templates.render import render_form
from templates.validation import nfc


@pytest.fixture(scope="module")
def emr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Session, DemoIds]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('emr') / 'emr.db'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as s:
        ids = seed_demo(s)
        s.commit()
        yield s, ids
    engine.dispose()


@pytest.mark.parametrize("code", form_codes())
def test_form_renders_from_emr_data(code: str, emr, tmp_path: Path):
    session, ids = emr
    encounter = ids.encounter_ids[1] if code in ("prescription", "outpatient_record_15bv1") \
        else ids.encounter_ids[0]
    data = form_data_for(session, code, encounter)
    r = render_form(code, data, document_id=f"EMR-{code}", verify_url="http://127.0.0.1/v")
    report = check_pdfa(r.pdf)
    assert report.verdict == "PASS", report.failures
    assert r.signature_fields
    with pikepdf.open(io.BytesIO(r.pdf)) as pdf:
        embedded = json.loads(pdf.attachments["data.json"].get_file().read_bytes())
    assert embedded == nfc(json.loads(json.dumps(data, default=str)))
