"""Retention (TT 33/2025/TT-BYT): classes, raising, locks, legal hold, two-person destruction."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from archive.ingest import Archiver, DocumentMeta, IngestItem
from archive.lifecycle import RecordLifecycle
from archive.retention import (
    PERMANENT_LOCK,
    RetentionClass,
    RetentionRules,
    retain_until,
)
from core.errors import Forbidden, InvalidInput
from tests.archive.conftest import s3_store


def test_periods_counted_from_the_closing_year() -> None:
    assert retain_until(RetentionClass.OUTPATIENT_10Y, 2026) == date(2036, 12, 31)
    assert retain_until(RetentionClass.INPATIENT_10Y, 2026) == date(2036, 12, 31)
    for cls in ("MENTAL_ILLNESS_20Y", "OCCUPATIONAL_ACCIDENT_20Y", "TRAFFIC_ACCIDENT_20Y",
                "COSMETIC_20Y", "TRANSPLANT_20Y"):
        assert retain_until(cls, 2026) == date(2046, 12, 31)
    assert retain_until(RetentionClass.ORGAN_DONOR_RECIPIENT_30Y, 2026) == date(2056, 12, 31)
    assert retain_until(RetentionClass.DEATH_30Y, 2026) == date(2056, 12, 31)
    assert retain_until(RetentionClass.MEDICAL_INCIDENT_PERMANENT, 2026) is None


def test_events_only_raise_the_class() -> None:
    rules = RetentionRules()
    c = rules.raised(RetentionClass.OUTPATIENT_10Y, "traffic_accident")
    assert c is RetentionClass.TRAFFIC_ACCIDENT_20Y
    c = rules.raised(c, "death")
    assert c is RetentionClass.DEATH_30Y
    assert rules.raised(c, "outpatient") is RetentionClass.DEATH_30Y  # never lowered
    assert rules.raised(c, "medical_incident") is RetentionClass.MEDICAL_INCIDENT_PERMANENT
    custom = RetentionRules.from_mapping({"cosmetic": "DEATH_30Y"})
    assert custom.class_for("cosmetic") is RetentionClass.DEATH_30Y
    with pytest.raises(InvalidInput):
        rules.class_for("alien_abduction")


def _ingest(a: Archiver, doc: str, closed_year: int, cls: str = "OUTPATIENT_10Y") -> str:
    r = a.archive_document(IngestItem(doc, f"%PDF {doc}".encode(),
                                      DocumentMeta("70001", "outpatient_record_15bv1",
                                                   retention_class=cls, closed_year=closed_year),
                                      "doctor-an"))
    return r.object_key


def test_event_raises_class_and_extends_the_lock(sqlite_archiver: Archiver) -> None:
    a = sqlite_archiver
    key = _ingest(a, "doc-r", 2026)
    life = RecordLifecycle(a)
    assert a.store.stat(key).retain_until == date(2036, 12, 31)
    info = life.apply_event("doc-r", "death", "head-of-dept")
    assert info.retention_class == "DEATH_30Y" and info.retain_until == date(2056, 12, 31)
    assert a.store.stat(key).retain_until == date(2056, 12, 31)
    info = life.apply_event("doc-r", "outpatient", "head-of-dept")
    assert info.retention_class == "DEATH_30Y" and info.retain_until == date(2056, 12, 31)
    info = life.apply_event("doc-r", "medical_incident", "quality-office")
    assert info.retain_until is None and a.store.stat(key).retain_until == PERMANENT_LOCK
    changes = [e for e in a.audit.entries() if e.action == "retention_change"]
    assert [c.details["to"] for c in changes] == ["DEATH_30Y", "DEATH_30Y",
                                                  "MEDICAL_INCIDENT_PERMANENT"]
    assert a.audit.verify().ok


@pytest.mark.services
def test_raised_class_extends_s3_compliance_lock(sqlite_archiver: Archiver,
                                                 test_services: Any) -> None:
    a = Archiver(sqlite_archiver.index, s3_store(test_services))
    key = _ingest(a, "doc-s3", date.today().year - 11)  # closed long ago: lock already past
    life = RecordLifecycle(a)
    life.apply_event("doc-s3", "traffic_accident", "head-of-dept")
    assert a.store.stat(key).retain_until == date(date.today().year + 9, 12, 31)


def test_expiry_legal_hold_and_two_person_destruction(sqlite_archiver: Archiver) -> None:
    a = sqlite_archiver
    old_key = _ingest(a, "doc-old", 2010)  # kept until 2020-12-31: expired
    _ingest(a, "doc-new", 2025)
    life = RecordLifecycle(a)
    assert [r.document_id for r in life.expiry_report()] == ["doc-old"]
    with pytest.raises(Forbidden):
        life.request_destruction("doc-new", "archivist-1")
    life.place_hold("doc-old", "legal-officer", "court request 12/2026")
    assert life.expiry_report() == []  # the hold suspends expiry
    with pytest.raises(Forbidden):
        life.request_destruction("doc-old", "archivist-1")
    assert a.store.stat(old_key).legal_hold
    life.release_hold("doc-old", "legal-officer")
    req = life.request_destruction("doc-old", "archivist-1")
    with pytest.raises(Forbidden) as e:
        life.approve_destruction(req, "archivist-1")  # same person
    assert e.value.code == "retention.same_person"
    assert a.store.exists(old_key)
    deleted = life.approve_destruction(req, "director-2")
    assert deleted == [old_key] and not a.store.exists(old_key)
    assert a.index.get("doc-old").status == "destroyed"
    assert life.expiry_report() == []
    actions = [(e.action, e.actor_id) for e in a.audit.entries() if e.object_id == "doc-old"]
    assert ("destruction_request", "archivist-1") in actions
    assert ("destruction_approve", "director-2") in actions
    assert actions[-1] == ("destroy", "director-2")
    assert a.audit.verify().ok


def test_expiry_report_date(sqlite_archiver: Archiver) -> None:
    a = sqlite_archiver
    _ingest(a, "doc-x", 2020)
    life = RecordLifecycle(a)
    assert life.expiry_report(on=date(2030, 12, 31)) == []
    assert [r.document_id for r in life.expiry_report(on=date(2031, 1, 1))] == ["doc-x"]
    assert life.expiry_report(on=date(2031, 1, 1) - timedelta(days=1)) == []
