"""Invalid policy files are rejected with file, line and reason; overrides and versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import PolicyError
from policies import PolicySet, load_policies

GOOD = """\
kind: signing
version: "h-1"
form: discharge_paper
title_vi: Giấy ra viện
title_en: Discharge paper
legal_basis: quy chế bệnh viện
certify: {role: doctor, docmdp: fill_forms}
steps:
  - role: doctor
    methods: [hsm_key, remote_signing]
  - role: director
    methods: [hsm_key]
"""


def _errors(directory: Path) -> list[dict[str, object]]:
    with pytest.raises(PolicyError) as e:
        load_policies(directory)
    assert e.value.code == "policy.invalid_file"
    details = e.value.details
    assert isinstance(details, list) and details
    first = details[0]
    # the message itself names file and line, in both languages
    assert f"{first['file']}" in e.value.message_en and f"line {first['line']}" in e.value.message_en
    assert f"dòng {first['line']}" in e.value.message_vi
    return details


def _write(directory: Path, text: str, name: str = "discharge_paper.yaml") -> str:
    (directory / name).write_text(text, encoding="utf-8")
    return f"{directory}/{name}"


def test_a_good_override_loads(hospital_dir: Path) -> None:
    _write(hospital_dir, GOOD)
    (hospital_dir / ".git").mkdir()
    _write(hospital_dir, "not: [valid", ".git/x.yaml")  # hidden: ignored
    _write(hospital_dir, "not: [valid", ".#discharge_paper.yaml")
    _write(hospital_dir, "# notes", "NOTES.md")
    ps = load_policies(hospital_dir)
    assert [s.role for s in ps.signing("discharge_paper").all_steps] == ["doctor", "director"]


# (case, text transform, expected line, text that must appear in the English reason)
INVALID = [
    ("bad yaml", lambda t: t.replace("  - role: director\n", "  - role: [director\n"), 12,
     "invalid YAML"),
    ("unknown role", lambda t: t.replace("role: director", "role: janitor"), 11,
     "unknown value 'janitor'"),
    ("unknown method", lambda t: t.replace("methods: [hsm_key]\n", "methods: [telepathy]\n"),
     12, "unknown value 'telepathy'"),
    ("duplicate step", lambda t: t.replace("role: director", "role: doctor"), 11,
     "duplicate step: role 'doctor' already signs at line 9"),
    ("weaker than law", lambda t: t + "algorithms:\n  min_rsa_bits: 1024\n", 14,
     "weaker than the law"),
    ("sha1 digest", lambda t: t + "algorithms:\n  digests: [sha1]\n", 14,
     "unknown value 'sha1'"),
    ("weak EC", lambda t: t + "algorithms: {min_ec_bits: 192}\n", 13, "P-256"),
    ("duplicate key", lambda t: t.replace('title_en: Discharge paper\n',
                                          'title_en: Discharge paper\ntitle_en: again\n'), 6,
     "duplicate key 'title_en'"),
    ("unknown field", lambda t: t.replace("    methods: [hsm_key]\n",
                                          "    methods: [hsm_key]\n    colour: red\n"), 13,
     "unknown field 'colour'"),
    ("missing field", lambda t: t.replace("legal_basis: quy chế bệnh viện\n", ""), 1,
     "missing required field 'legal_basis'"),
    ("unknown kind", lambda t: t.replace("kind: signing", "kind: sining"), 1,
     "'kind' must be one of"),
    ("staff with otp", lambda t: t.replace("methods: [hsm_key]\n", "methods: [hsm_key, otp]\n"),
     12, "staff must sign with a digital signature"),
    ("certify not first", lambda t: t.replace("certify: {role: doctor", "certify: {role: director"),
     7, "must be the first one"),
    ("no_changes with later signatures", lambda t: t.replace("docmdp: fill_forms",
                                                             "docmdp: no_changes"), 7,
     "would invalidate the later signatures"),
    ("not B-LTA", lambda t: t + "final_level: B-T\n", 13, "must reach PAdES B-LTA"),
    ("bad deadline", lambda t: t.replace("methods: [hsm_key]\n",
                                         "methods: [hsm_key]\n    deadline_hours: -4\n"), 13,
     "greater than 0"),
]


@pytest.mark.parametrize(("case", "transform", "line", "reason"), INVALID,
                         ids=[c[0] for c in INVALID])
def test_invalid_signing_file_is_rejected_with_file_line_reason(
        hospital_dir: Path, case: str, transform, line: int, reason: str) -> None:
    file = _write(hospital_dir, transform(GOOD))
    details = _errors(hospital_dir)
    assert any(d["file"] == file and d["line"] == line and reason in str(d["message_en"])
               for d in details), (case, details)
    assert all(d["message_vi"] for d in details)


def test_patient_confirmation_must_be_sealed(hospital_dir: Path) -> None:
    file = _write(hospital_dir, """\
kind: signing
version: "1"
form: consent_surgery
title_vi: a
title_en: b
legal_basis: c
steps:
  - role: doctor
    methods: [hsm_key]
  - role: patient
    representative_allowed: true
    methods: [patient_pad, otp]
""", "consent.yaml")
    details = _errors(hospital_dir)
    assert [(d["file"], d["line"]) for d in details] == [(file, 12)]
    assert "sealed with the hospital seal" in str(details[0]["message_en"])
    assert "niêm phong" in str(details[0]["message_vi"])


def test_two_hospital_files_for_one_form_conflict(hospital_dir: Path) -> None:
    _write(hospital_dir, GOOD, "a.yaml")
    second = _write(hospital_dir, GOOD, "b.yaml")
    details = _errors(hospital_dir)
    assert details[0]["file"] == second and details[0]["line"] == 3
    assert "duplicates" in str(details[0]["message_en"])


def test_every_problem_in_every_file_is_reported(hospital_dir: Path) -> None:
    _write(hospital_dir, GOOD.replace("role: director", "role: janitor"), "one.yaml")
    _write(hospital_dir, "kind: access\nversion: 1\n  bad: [\n", "two.yaml")
    files = {d["file"] for d in _errors(hospital_dir)}
    assert files == {f"{hospital_dir}/one.yaml", f"{hospital_dir}/two.yaml"}


def test_retention_shorter_than_law_rejected(defaults_copy: Path) -> None:
    path = defaults_copy / "retention.yaml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    idx = next(i for i, ln in enumerate(lines) if ln.strip() == "DEATH_30Y:") + 1
    assert lines[idx].strip() == "years: 30"
    lines[idx] = "    years: 25\n"
    path.write_text("".join(lines), encoding="utf-8")
    details = _errors(defaults_copy)
    assert details[0]["line"] == idx + 1
    assert "shorter than the law" in str(details[0]["message_en"])


def test_admin_reading_records_rejected(hospital_dir: Path, defaults_copy: Path) -> None:
    text = (defaults_copy / "access.yaml").read_text(encoding="utf-8")
    text = text.replace("    actions: [administer]\n", "    actions: [administer, view]\n")
    file = _write(hospital_dir, text, "access.yaml")
    details = _errors(hospital_dir)
    assert details[0]["file"] == file
    assert "administrators may not read" in str(details[0]["message_en"])


def test_missing_directory_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as e:
        load_policies(tmp_path / "nope")
    assert e.value.code == "policy.dir_missing"


def test_version_is_stable_and_tracks_every_file(defaults: PolicySet, defaults_copy: Path,
                                                  hospital_dir: Path) -> None:
    assert load_policies(hospital_dir).version == defaults.version  # empty dir: same rules
    assert defaults.version.startswith("pol-") and len(defaults.version) == 20
    copy = load_policies(defaults_copy)
    assert copy.version == defaults.version  # same content, same version
    path = defaults_copy / "signing" / "prescription.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "# reviewed 2026-11\n", encoding="utf-8")
    changed = load_policies(defaults_copy)
    assert changed.version != defaults.version
    assert changed.signing("prescription").identifier != defaults.signing(
        "prescription").identifier
    assert changed.signing("lab_result").identifier == defaults.signing("lab_result").identifier


def test_policies_dir_from_settings(monkeypatch: pytest.MonkeyPatch, hospital_dir: Path) -> None:
    from core.settings import reset_settings_cache

    _write(hospital_dir, GOOD)
    monkeypatch.setenv("HSBA_POLICIES_DIR", str(hospital_dir))
    reset_settings_cache()
    try:
        ps = load_policies()
        assert ps.directory == str(hospital_dir)
        assert [s.role for s in ps.signing("discharge_paper").all_steps] == ["doctor", "director"]
    finally:
        monkeypatch.delenv("HSBA_POLICIES_DIR")
        reset_settings_cache()
