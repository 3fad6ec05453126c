"""EMR model: migrations match the models, the demo seed, FHIR round trips, form payloads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.db import make_engine
from archive.models import Base
from core.errors import InvalidInput
from emr import models as m
from emr.fhir import to_fhir
from emr.fhir_in import from_fhir
from emr.forms_data import BUILDERS, form_data_for
from emr.seed import DemoIds, seed_demo

FORMS = Path(__file__).resolve().parents[2] / "templates" / "forms"


def test_migrations_match_models(emr_url: str) -> None:
    """The migrations create the EMR tables as declared (with the archive's and, since
    migration 0005, the workflow's, since 0006 the remote-signing tables: one database)."""
    from api.csc.state import metadata as csc_metadata
    from api.remote.pending_db import metadata as remote_metadata
    from workflow.db import metadata as workflow_metadata

    engine = make_engine(emr_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn)
            diff = compare_metadata(ctx, [Base.metadata, m.EmrBase.metadata, workflow_metadata,
                                         csc_metadata, remote_metadata])
    finally:
        engine.dispose()
    assert diff == []


def test_seed_is_idempotent(seeded: tuple[Session, DemoIds]) -> None:
    s, ids = seeded
    assert ids.created
    again = seed_demo(s)
    assert not again.created and again.patient_ids == ids.patient_ids
    assert s.execute(select(func.count()).select_from(m.Patient)).scalar_one() == 2
    assert s.execute(select(func.count()).select_from(m.Organization)).scalar_one() == 3
    assert s.execute(select(func.count()).select_from(m.Practitioner)).scalar_one() >= 3
    tam = s.get(m.Patient, ids.patient_ids[1])
    assert tam is not None and tam.province == "Tây Ninh" and tam.ward == "Phường Long An"


ALL_MODELS = [m.Organization, m.Practitioner, m.PractitionerRole, m.Patient, m.RelatedPerson,
              m.Encounter, m.Condition, m.Observation, m.DiagnosticReport, m.MedicationRequest,
              m.MedicationAdministration, m.Procedure, m.ChargeItem]


def test_every_seeded_row_maps_to_valid_fhir(seeded_sqlite: tuple[Session, DemoIds]) -> None:
    s, _ = seeded_sqlite
    seen = set()
    for model in ALL_MODELS:
        for row in s.execute(select(model)).scalars():
            res = to_fhir(row)
            assert res.id == row.id
            assert json.loads(res.model_dump_json())["resourceType"] == type(res).__name__
            seen.add(type(res).__name__)
    assert len(seen) == len(ALL_MODELS)


def _columns(row: Any) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}


ROUND_TRIP = [m.Organization, m.Practitioner, m.Patient, m.RelatedPerson, m.Encounter,
              m.Condition, m.Observation, m.MedicationRequest, m.Procedure]
IGNORED = {"tenant_id", "created_at", "bhyt_valid_from", "bhyt_valid_to", "ethnicity",
           "nationality", "occupation", "insurance_covered", "strength", "address_line"}


@pytest.mark.parametrize("model", ROUND_TRIP, ids=lambda x: x.__name__)
def test_fhir_round_trip(model: Any, seeded_sqlite: tuple[Session, DemoIds]) -> None:
    s, ids = seeded_sqlite
    rows = list(s.execute(select(model)).scalars())
    assert rows
    for row in rows:
        as_json = json.loads(to_fhir(row).model_dump_json())
        back = from_fhir(as_json, ids.tenant_id)
        want = {k: v for k, v in _columns(row).items() if k not in IGNORED}
        got = {k: v for k, v in _columns(back).items() if k not in IGNORED}
        assert got == want, model.__name__


def test_from_fhir_validates_identifiers() -> None:
    bad = {"resourceType": "Patient", "id": "x", "name": [{"text": "A B"}], "gender": "male",
           "identifier": [{"system": "urn:hsba:sid:cccd", "value": "12345"}]}
    with pytest.raises(InvalidInput):
        from_fhir(bad, "70001")
    with pytest.raises(InvalidInput):
        from_fhir({"resourceType": "Condition", "id": "c", "subject": {"reference": "Patient/p"},
                   "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10",
                                        "code": "nonsense"}]}}, "70001")
    with pytest.raises(InvalidInput):
        from_fhir({"resourceType": "Patient", "gender": "robot"}, "70001")


def _schema_validator(form: str) -> jsonschema.protocols.Validator:
    schema = json.loads((FORMS / form / "v1" / "schema.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


@pytest.mark.parametrize("form", sorted(BUILDERS))
def test_form_payloads_match_the_form_schemas(form: str,
                                              seeded_sqlite: tuple[Session, DemoIds]) -> None:
    if not (FORMS / form / "v1" / "schema.json").exists():
        pytest.fail(f"form {form} has no schema")
    s, ids = seeded_sqlite
    enc = ids.encounter_ids[1] if form in ("prescription", "outpatient_record_15bv1") \
        else ids.encounter_ids[0]
    data = form_data_for(s, form, enc)
    errors = sorted(_schema_validator(form).iter_errors(data), key=lambda e: list(e.path))
    assert [f"{list(e.path)}: {e.message}" for e in errors] == []
    assert data["patient"]["cccd"] in ("072187001234", "072058003456")
