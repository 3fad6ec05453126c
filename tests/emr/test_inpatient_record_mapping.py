"""EMR → Bệnh án nội khoa (01/BV1) payload: admission vs discharge diagnoses, vital signs by
LOINC code, tick boxes from the encounter, and refusals (vi/en) when it cannot be filled."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from core.errors import InvalidInput
from emr import models as m
from emr.forms_data import form_data_for
from emr.seed import DemoIds
from templates.catalogue import load_form
from templates.validation import validate_form_data

CODE = "inpatient_record_01bv1"


def _valid(data: dict) -> dict:
    validate_form_data(CODE, load_form(CODE).schema, data)
    return data


def test_discharged_inpatient_encounter(seeded_sqlite: tuple[Session, DemoIds]) -> None:
    s, ids = seeded_sqlite
    data = _valid(form_data_for(s, CODE, ids.encounter_ids[0]))
    assert data["admission_diagnosis"] == data["diagnosis"] == {
        "code": "K35.8", "name": "Viêm ruột thừa cấp, khác và không xác định"}
    assert data["secondary_diagnoses"] == data["admission_secondary_diagnoses"] == [
        {"code": "D64.9", "name": "Thiếu máu, không đặc hiệu"}]
    assert data["management"] == {"admission_route": "emergency",
                                  "discharge_kind": "discharged", "total_days": 7}
    assert data["reason"] == "Đau bụng vùng hố chậu phải" and data["payer"] == "bhyt"
    assert data["emergency_contact"]["relationship"] == "Chồng"
    assert data["doctor"]["full_name"] == "Trần Quốc Huy"
    assert data["head_of_department"]["full_name"] == "Lê Minh Đức"
    assert data["encounter"]["admission_time"] == "2026-11-02T09:15"
    assert "examination" not in data  # the demo records no vital signs


def test_admission_diagnosis_and_vital_signs_before_discharge(
        seeded_sqlite: tuple[Session, DemoIds]) -> None:
    s, ids = seeded_sqlite
    enc_id = ids.encounter_ids[0]
    enc = s.get(m.Encounter, enc_id)
    assert enc is not None
    enc.discharged_at, enc.discharge_disposition = None, None
    patient = enc.patient_id
    s.add(m.Condition(id="t-cond-adm", patient_id=patient, encounter_id=enc_id, icd10="R10.3",
                      display="Đau khu trú vùng bụng dưới", role="admission"))
    at = datetime(2026, 11, 2, 2, 30, tzinfo=UTC)
    later = datetime(2026, 11, 3, 2, 30, tzinfo=UTC)
    for i, (code, value, text, when) in enumerate([
            ("8867-4", "96", None, at), ("8867-4", "80", None, later),  # first one is kept
            ("8310-5", "38.2", None, at), ("9279-1", "20", None, at),
            ("29463-7", "52.5", None, at), ("8480-6", "125", None, at),
            ("8462-4", "75", None, at)]):
        s.add(m.Observation(id=f"t-vit-{i}", patient_id=patient, encounter_id=enc_id, code=code,
                            display=code, value=Decimal(value) if value else None,
                            value_text=text, effective_at=when))
    s.flush()
    data = _valid(form_data_for(s, CODE, enc_id))
    assert data["admission_diagnosis"] == {"code": "R10.3", "name": "Đau khu trú vùng bụng dưới"}
    assert "diagnosis" not in data and "secondary_diagnoses" not in data
    assert "total_days" not in data["management"] and "discharge_time" not in data["encounter"]
    assert data["examination"] == {"vitals": {"pulse": 96, "temperature": 38.2,
                                              "respiratory_rate": 20, "weight": 52.5,
                                              "blood_pressure": "125/75"}}


def test_outpatient_encounter_and_missing_reason_are_refused(
        seeded_sqlite: tuple[Session, DemoIds]) -> None:
    s, ids = seeded_sqlite
    with pytest.raises(InvalidInput) as e:
        form_data_for(s, CODE, ids.encounter_ids[1])
    assert e.value.code == "emr.not_inpatient"
    assert "nội trú" in e.value.message_vi and "inpatient encounter" in e.value.message_en
    enc = s.get(m.Encounter, ids.encounter_ids[0])
    assert enc is not None
    enc.reason = " "
    s.flush()
    with pytest.raises(InvalidInput) as e:
        form_data_for(s, CODE, ids.encounter_ids[0])
    assert e.value.code == "emr.incomplete_admission"
    assert "lý do vào viện" in e.value.message_vi and "reason for admission" in e.value.message_en
