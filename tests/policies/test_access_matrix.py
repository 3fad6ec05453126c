"""The access policy: the whole role × action × relationship matrix, windows, grants, tenants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.errors import Forbidden
from policies import AccessRequest, PolicySet, load_policies
from policies.vocabulary import ACTIONS, RELATIONSHIPS, USER_ROLES

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
ADMITTED = NOW - timedelta(days=3)

# The expected decisions of the shipped access.yaml: what each role may do through each
# relationship (open encounter, valid auditor grant, no form given). Everything not listed
# is denied. `same_tenant` alone (belonging to the hospital) gives staff nothing.
ALLOWED: dict[str, dict[str, set[str]]] = {
    "clinician": {
        "treating_team": {"view", "print", "verify", "create", "sign", "export"},
        "same_department": {"view"},
    },
    "nurse": {
        "treating_team": {"view", "print", "verify", "create", "sign"},
        "same_department": {"view"},
    },
    "head_of_department": {
        "treating_team": {"view", "print", "verify", "create", "sign", "export"},
        "same_department": {"view", "print", "export", "sign", "verify"},
    },
    "cashier": {},
    "kiosk": {"own_record": {"view", "sign"}},
    "auditor": {"auditor_grant": {"view", "print", "export", "verify"}},
    "integration": {"same_tenant": {"create", "view", "export", "verify"}},
    "admin": {"same_tenant": {"administer"}},
}
CASHIER_FORMS_ALLOWED = {"view", "print", "create", "sign", "verify"}


def _req(role: str, action: str, rels: set[str], **kw: object) -> AccessRequest:
    base: dict[str, object] = {
        "role": role, "action": action, "relationships": frozenset(rels), "tenant_match": True, "now": NOW,
        "encounter_start": ADMITTED, "encounter_end": None, "grant_expiry": NOW + timedelta(days=7)}
    base.update(kw)
    return AccessRequest(**base)  # type: ignore[arg-type]


def test_matrix_covers_every_role() -> None:
    assert set(ALLOWED) == set(USER_ROLES)


@pytest.mark.parametrize("form_code", [None, "billing_01kbcb", "discharge_paper"])
def test_walk_the_whole_matrix(defaults: PolicySet, form_code: str | None) -> None:
    walked = 0
    wrong = []
    for role in USER_ROLES:
        for action in ACTIONS:
            for rel in RELATIONSHIPS:
                expected = action in ALLOWED[role].get(rel, set())
                if role == "cashier" and rel == "same_tenant" and form_code == "billing_01kbcb":
                    expected = action in CASHIER_FORMS_ALLOWED
                d = defaults.access.decide(_req(role, action, {rel}, form_code=form_code))
                walked += 1
                if d.allowed != expected:
                    wrong.append((role, action, rel, d.allowed, d.rule_id))
                assert d.reason_vi and d.reason_en and d.rule_id
                if not d.allowed:
                    assert d.rule_id == "default_deny"
    assert walked == len(USER_ROLES) * len(ACTIONS) * len(RELATIONSHIPS) == 280
    assert not wrong, wrong


@pytest.mark.parametrize(("role", "action", "rel"), [
    ("clinician", "view", "treating_team"), ("admin", "administer", "same_tenant"),
    ("auditor", "view", "auditor_grant"), ("kiosk", "view", "own_record"),
    ("integration", "create", "same_tenant"),
])
def test_cross_tenant_always_denied(defaults: PolicySet, role: str, action: str,
                                    rel: str) -> None:
    assert defaults.access.decide(_req(role, action, {rel})).allowed
    d = defaults.access.decide(_req(role, action, {rel}, tenant_match=False))
    assert not d.allowed and d.rule_id == "cross_tenant"
    assert "another hospital" in d.reason_en


def test_same_department_window(defaults: PolicySet) -> None:
    discharged = NOW - timedelta(days=10)
    req = {"encounter_start": discharged - timedelta(days=5)}
    assert defaults.access.decide(_req("nurse", "view", {"same_department"},
                                       encounter_end=discharged, **req)).allowed
    d = defaults.access.decide(_req("nurse", "view", {"same_department"},
                                    encounter_end=NOW - timedelta(days=31), **req))
    assert not d.allowed and "time window" in d.reason_en
    # no encounter known: a windowed rule does not apply
    assert not defaults.access.decide(_req("nurse", "view", {"same_department"},
                                           encounter_start=None)).allowed
    # before the encounter started
    assert not defaults.access.decide(_req("nurse", "view", {"same_department"},
                                           encounter_start=NOW + timedelta(hours=1))).allowed


def test_treating_team_reads_forever_but_signs_within_30_days(defaults: PolicySet) -> None:
    old = {"encounter_start": NOW - timedelta(days=400), "encounter_end": NOW - timedelta(days=390)}
    assert defaults.access.decide(_req("clinician", "view", {"treating_team"}, **old)).allowed
    assert not defaults.access.decide(_req("clinician", "sign", {"treating_team"}, **old)).allowed
    recent = {"encounter_start": NOW - timedelta(days=20), "encounter_end": NOW - timedelta(days=29)}
    assert defaults.access.decide(_req("clinician", "sign", {"treating_team"}, **recent)).allowed


def test_kiosk_only_during_the_encounter(defaults: PolicySet) -> None:
    assert defaults.access.decide(_req("kiosk", "sign", {"own_record"})).allowed
    d = defaults.access.decide(_req("kiosk", "sign", {"own_record"},
                                    encounter_end=NOW - timedelta(days=1)))
    assert not d.allowed


def test_auditor_grant_must_be_present_and_unexpired(defaults: PolicySet) -> None:
    assert defaults.access.decide(_req("auditor", "export", {"auditor_grant"})).allowed
    for expiry in (None, NOW, NOW - timedelta(seconds=1)):
        d = defaults.access.decide(_req("auditor", "export", {"auditor_grant"},
                                        grant_expiry=expiry))
        assert not d.allowed and "grant" in d.reason_en, expiry


def test_check_raises_forbidden(defaults: PolicySet) -> None:
    defaults.access.check(_req("admin", "administer", {"same_tenant"}))
    with pytest.raises(Forbidden) as e:
        defaults.access.check(_req("admin", "view", {"same_tenant"}))
    assert e.value.details["rule_id"] == "default_deny"


def test_a_deny_rule_wins(defaults_copy: Path) -> None:
    path = defaults_copy / "access.yaml"
    path.write_text(path.read_text(encoding="utf-8") + """\
  - id: no-export-by-heads
    effect: deny
    roles: [head_of_department]
    actions: [export]
    relationships: [treating_team, same_department]
    description_vi: Không trích xuất.
    description_en: No export.
""", encoding="utf-8")
    access = load_policies(defaults_copy).access
    d = access.decide(_req("head_of_department", "export", {"treating_team"}))
    assert not d.allowed and d.rule_id == "no-export-by-heads"
    assert access.decide(_req("head_of_department", "view", {"treating_team"})).allowed


def test_naive_times_are_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        _req("clinician", "view", {"treating_team"}, now=datetime(2026, 11, 27, 10, 0))
