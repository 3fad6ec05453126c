"""Retention classes from record type and events (TT 33/2025/TT-BYT), and legal hold rules."""

from __future__ import annotations

import pytest

from core.errors import PolicyError
from policies import PolicySet
from policies.vocabulary import LAW_RETENTION_YEARS, RETENTION_CLASSES


@pytest.mark.parametrize(("record_type", "events", "class_name", "years"), [
    ("outpatient", [], "OUTPATIENT_10Y", 10),
    ("inpatient", [], "INPATIENT_10Y", 10),
    ("emergency", [], "INPATIENT_10Y", 10),
    ("inpatient", ["mental_illness"], "MENTAL_ILLNESS_20Y", 20),
    ("outpatient", ["occupational_accident"], "OCCUPATIONAL_ACCIDENT_20Y", 20),
    ("inpatient", ["traffic_accident"], "TRAFFIC_ACCIDENT_20Y", 20),
    ("outpatient", ["cosmetic"], "COSMETIC_20Y", 20),
    ("inpatient", ["transplant"], "TRANSPLANT_20Y", 20),
    ("inpatient", ["organ_donor"], "ORGAN_DONOR_RECIPIENT_30Y", 30),
    ("inpatient", ["transplant", "organ_recipient"], "ORGAN_DONOR_RECIPIENT_30Y", 30),
    ("inpatient", ["traffic_accident", "death"], "DEATH_30Y", 30),
    ("inpatient", ["death", "medical_incident", "mental_illness"],
     "MEDICAL_INCIDENT_PERMANENT", None),
])
def test_highest_class_wins(defaults: PolicySet, record_type: str, events: list[str],
                            class_name: str, years: int | None) -> None:
    d = defaults.retention.classify(record_type, events)
    assert (d.class_name, d.years) == (class_name, years)
    assert d.legal_basis.startswith("TT 33/2025/TT-BYT")
    assert d.permanent is (years is None)
    assert d.label_vi and d.label_en


def test_reasons_name_every_event_of_the_winning_length(defaults: PolicySet) -> None:
    d = defaults.retention.classify("inpatient", ["traffic_accident", "mental_illness"])
    assert d.years == 20 and d.class_name == "TRAFFIC_ACCIDENT_20Y"
    assert d.reasons == ("traffic_accident", "mental_illness")


def test_a_later_event_raises_never_lowers(defaults: PolicySet) -> None:
    first = defaults.retention.classify("inpatient", ["death"])
    assert first.class_name == "DEATH_30Y"
    # a later classification with a milder event keeps the current class
    again = defaults.retention.classify("inpatient", ["mental_illness"], current=first.class_name)
    assert again.class_name == "DEATH_30Y"
    raised = defaults.retention.classify("inpatient", ["medical_incident"],
                                         current=first.class_name)
    assert raised.class_name == "MEDICAL_INCIDENT_PERMANENT" and raised.years is None


def test_unknown_record_type_or_event_refused(defaults: PolicySet) -> None:
    with pytest.raises(PolicyError) as e:
        defaults.retention.classify("spaceflight")
    assert e.value.code == "policy.unknown_record_type"
    with pytest.raises(PolicyError) as e:
        defaults.retention.classify("inpatient", ["alien_abduction"])
    assert e.value.code == "policy.unknown_event" and "death" in e.value.message_en


def test_every_law_class_present_with_law_years(defaults: PolicySet) -> None:
    assert set(defaults.retention.classes) == set(RETENTION_CLASSES)
    for name, years in LAW_RETENTION_YEARS.items():
        assert defaults.retention.classes[name].years == years  # type: ignore[index]


def test_class_names_match_the_contract() -> None:
    """The names written in docs/CONTRACTS.md, shared with archive.retention.RetentionClass."""
    from pathlib import Path

    contracts = (Path(__file__).resolve().parents[2] / "docs" / "CONTRACTS.md").read_text(
        encoding="utf-8")
    for name in RETENTION_CLASSES:
        assert f"`{name}`" in contracts, name


def test_form_record_types_are_known(defaults: PolicySet) -> None:
    mapping = defaults.retention.form_record_types
    assert mapping["discharge_paper"] == "inpatient"
    assert mapping["outpatient_record_15bv1"] == "outpatient"
    assert "lab_result" not in mapping  # both kinds of care: the encounter decides
    for form, kind in mapping.items():
        assert form in defaults.forms() and kind in defaults.retention.record_types


def test_legal_hold_roles(defaults: PolicySet) -> None:
    r = defaults.retention
    assert r.may_place_hold("auditor", "litigation")
    assert not r.may_release_hold("auditor", "litigation")
    assert r.may_release_hold("admin", "litigation")
    assert not r.may_place_hold("clinician", "litigation")
    assert not r.may_place_hold("admin", "no_such_reason")


def test_class_names_and_years_match_the_archive() -> None:
    """The archive locks objects by the class this policy decides: same names, same years."""
    from archive.retention import YEARS, RetentionClass

    assert {c.value for c in RetentionClass} == set(RETENTION_CLASSES)
    for cls, years in YEARS.items():
        assert LAW_RETENTION_YEARS[cls.value] == years, cls
