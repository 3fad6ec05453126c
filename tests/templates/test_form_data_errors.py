"""Bad data for each form gets per-field errors (Vietnamese and English) and no file."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pytest

from api.cli import main as hsba
from core.errors import InvalidInput, NotFound
from templates.catalogue import FORMS_DIR, form_codes
from templates.render import render_form, sample_data

FORM_CODES = form_codes()


def _errors(code: str, data: dict) -> dict[str, dict]:
    with pytest.raises(InvalidInput) as exc:
        render_form(code, data, document_id="D1", verify_url="http://x/v")
    details = exc.value.details
    assert details and all(d["message_vi"] and d["message_en"] for d in details)
    return {d["field"]: d for d in details}


@pytest.mark.parametrize("code", FORM_CODES)
def test_bad_identifiers_and_missing_fields_are_reported_per_field(code):
    data = copy.deepcopy(sample_data(code))
    data["patient"]["cccd"] = "07218700123"          # 11 digits
    data["patient"]["bhyt_card"] = "DN47272123"      # too short
    data["patient"]["dob"] = "12/04/1987"            # not ISO
    del data["patient"]["full_name"]
    data["unexpected"] = 1
    errors = _errors(code, data)
    assert set(errors) >= {"patient.cccd", "patient.bhyt_card", "patient.dob",
                           "patient.full_name", "unexpected"}
    assert "12 chữ số" in errors["patient.cccd"]["message_vi"]
    assert "12 digits" in errors["patient.cccd"]["message_en"]
    assert errors["patient.full_name"]["message_en"] == "Required field is missing."


@pytest.mark.parametrize("code", ["billing_01kbcb", "discharge_paper", "prescription",
                                  "record_summary", "outpatient_record_15bv1",
                                  "inpatient_record_01bv1"])
def test_bad_icd10_code(code):
    data = copy.deepcopy(sample_data(code))
    data["diagnosis"]["code"] = "K3"
    errors = _errors(code, data)
    assert "ICD-10" in errors["diagnosis.code"]["message_vi"]


def test_array_item_errors_name_the_row():
    data = copy.deepcopy(sample_data("prescription"))
    data["medicines"][1]["quantity"] = 0
    errors = _errors("prescription", data)
    assert "medicines[1].quantity" in errors


def test_not_an_object_and_unknown_form():
    with pytest.raises(InvalidInput):
        render_form("prescription", [], document_id="D1", verify_url="")  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        render_form("no_such_form", {}, document_id="D1", verify_url="")
    with pytest.raises(NotFound):
        render_form("prescription", sample_data("prescription"), document_id="D1",
                    verify_url="", version="v99")


def test_cli_render_with_bad_data_writes_no_file(tmp_path: Path, capsys):
    data = copy.deepcopy(sample_data("lab_result"))
    data["patient"]["cccd"] = "abc"
    src = tmp_path / "bad.json"
    src.write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "out.pdf"
    rc = hsba(["--lang", "en", "forms", "render", "lab_result", "--data", str(src),
               "--out", str(out)])
    assert rc == 2 and not out.exists()
    assert "patient.cccd" in capsys.readouterr().err


def test_released_versions_are_frozen():
    """Editing a released form version (or layout) silently must fail CI: add a new version."""
    manifest = json.loads((FORMS_DIR / "RELEASED.json").read_text(encoding="utf-8"))["versions"]
    for code in FORM_CODES:
        assert f"{code}/v1" in manifest, f"{code} v1 is not in RELEASED.json"
    assert "_layout/v1" in manifest
    for version, files in manifest.items():
        directory = FORMS_DIR / version
        on_disk = {f.name for f in directory.iterdir() if f.is_file()}
        assert on_disk == set(files), f"{version}: files added or removed"
        for name, digest in files.items():
            actual = hashlib.sha256((directory / name).read_bytes()).hexdigest()
            assert actual == digest, f"{version}/{name} changed after release"


def test_cli_list_and_render_with_preview(tmp_path: Path, capsys):
    assert hsba(["forms", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {f["code"] for f in listed} == set(FORM_CODES)
    out, png = tmp_path / "rx.pdf", tmp_path / "rx.png"
    assert hsba(["forms", "render", "prescription", "--sample", "--out", str(out),
                 "--preview-png", str(png), "--document-id", "DX-1"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["document_id"] == "DX-1" and out.read_bytes().startswith(b"%PDF-1.7")
    assert [f["name"] for f in result["signature_fields"]] == ["doctor"]
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert hsba(["pdfa", "check", str(out)]) == 0
