"""The Policy protocol and its combinators; the ``hsba policies`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import ConfigurationError, Forbidden, HsbaError, PolicyError
from core.settings import reset_settings_cache
from policies import AllOf, AnyOf, Policy, PolicySet, SignatureAttempt, UnsafeAllowAll

STRONG = {"algorithm": "ecdsa", "key_size": 256, "digest": "sha256"}


class OnlyHsm:
    """A hospital rule written as a policy: staff sign with HSM keys only."""

    def check(self, attempt: SignatureAttempt, /) -> None:
        if attempt.method != "hsm_key":
            raise PolicyError("policy.hsm_only", "Chỉ ký bằng HSM.", "HSM keys only.")


def test_policies_satisfy_the_protocol(defaults: PolicySet) -> None:
    assert isinstance(defaults.signing("lab_result"), Policy)
    assert isinstance(defaults.access, Policy)
    assert isinstance(OnlyHsm(), Policy)


def test_all_of(defaults: PolicySet) -> None:
    both = AllOf([defaults.signing("lab_result"), OnlyHsm()])
    both.check(SignatureAttempt(role="technician", method="hsm_key", **STRONG))
    with pytest.raises(PolicyError) as e:
        both.check(SignatureAttempt(role="technician", method="remote_signing", **STRONG))
    assert e.value.code == "policy.hsm_only"
    with pytest.raises(PolicyError) as e:  # the form's own rule still applies
        both.check(SignatureAttempt(role="approving_physician", method="hsm_key", **STRONG))
    assert e.value.code == "policy.out_of_order"


def test_any_of(defaults: PolicySet) -> None:
    either = AnyOf([OnlyHsm(), defaults.signing("lab_result")])
    either.check(SignatureAttempt(role="technician", method="remote_signing", **STRONG))
    with pytest.raises(PolicyError) as e:
        either.check(SignatureAttempt(role="cashier", method="remote_signing", **STRONG))
    assert e.value.code == "policy.none_allowed"
    assert "HSM keys only" in e.value.message_en and "cashier" in e.value.message_en
    assert len(e.value.details) == 2


def test_empty_combinators_refused() -> None:
    with pytest.raises(ConfigurationError):
        AllOf([])
    with pytest.raises(ConfigurationError):
        AnyOf([])


def test_unsafe_allow_all_only_outside_production(monkeypatch: pytest.MonkeyPatch) -> None:
    UnsafeAllowAll().check(object())
    monkeypatch.setenv("HSBA_ENV", "production")
    reset_settings_cache()
    try:
        with pytest.raises(ConfigurationError) as e:
            UnsafeAllowAll()
        assert "production" in e.value.message_en
    finally:
        monkeypatch.delenv("HSBA_ENV")
        reset_settings_cache()


def test_access_denial_is_forbidden(defaults: PolicySet) -> None:
    from datetime import UTC, datetime

    from policies import AccessRequest

    req = AccessRequest(role="kiosk", action="export", relationships=frozenset({"own_record"}),
                        tenant_match=True, now=datetime.now(UTC))
    with pytest.raises(Forbidden):
        AllOf([defaults.access]).check(req)
    assert issubclass(Forbidden, HsbaError)


# --- CLI ---------------------------------------------------------------------------------
def _main(*argv: str) -> int:
    from api.cli import main

    return main(list(argv))


def test_cli_check_ok(capsys: pytest.CaptureFixture[str], defaults: PolicySet,
                      hospital_dir: Path) -> None:
    assert _main("--lang", "en", "policies", "check", str(hospital_dir)) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK: 14 files") and defaults.version in out


def test_cli_check_reports_file_line_reason(capsys: pytest.CaptureFixture[str],
                                            hospital_dir: Path) -> None:
    bad = hospital_dir / "lab_result.yaml"
    bad.write_text("kind: signing\nversion: '1'\nform: lab_result\ntitle_vi: a\ntitle_en: b\n"
                   "legal_basis: c\nsteps:\n  - role: technician\n    methods: [fax]\n",
                   encoding="utf-8")
    assert _main("--lang", "en", "policies", "check", str(hospital_dir)) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [(f"{bad}:9: steps[0].methods[0]: unknown value 'fax'; expected 'hsm_key', "
                   "'remote_signing', 'patient_pad', 'fingerprint', 'otp', "
                   "'patient_own_signature' or 'organisation_seal'")]
    assert _main("policies", "check", str(hospital_dir)) == 1
    assert "giá trị 'fax' không hợp lệ" in capsys.readouterr().out


def test_cli_explain_text_in_both_languages(capsys: pytest.CaptureFixture[str]) -> None:
    assert _main("policies", "explain", "--form", "discharge_paper") == 0
    out = capsys.readouterr().out
    vi, en = out.split("\n\n")
    assert vi.startswith("Giấy ra viện (discharge_paper)")
    assert "1. Bác sĩ điều trị" in vi and "2. Giám đốc / Trưởng khoa" in vi
    assert "Lưu trữ: 10 năm (Hồ sơ bệnh án nội trú, INPATIENT_10Y)" in vi
    assert "PAdES B-LTA" in vi
    assert en.startswith("Discharge paper (discharge_paper)")
    assert "2. Director / head of department (or Head of department)" in en
    assert "Kept: 10 years" in en and "medical_incident → permanent" in en


def test_cli_explain_json(capsys: pytest.CaptureFixture[str], defaults: PolicySet) -> None:
    assert _main("policies", "explain", "--form", "consent_surgery", "--json") == 0
    info = json.loads(capsys.readouterr().out)
    assert info["policy_set_version"] == defaults.version
    assert [s["steps"][0]["role"] for s in info["stages"]] == [
        "doctor", "patient", "head_of_department"]
    patient = info["stages"][1]["steps"][0]
    assert patient["representative_allowed"] and patient["sealed_by"] == "organisation_seal"
    assert info["certify"] == {"role": "doctor", "docmdp": "fill_forms"}
    assert info["retention"]["record_type"] is None  # outpatient procedures too
    assert info["retention"]["by_record_type"]["outpatient"]["class_name"] == "OUTPATIENT_10Y"
    assert info["retention"]["raised_by"]["medical_incident"]["years"] is None


def test_cli_explain_unknown_form(capsys: pytest.CaptureFixture[str]) -> None:
    assert _main("--lang", "en", "policies", "explain", "--form", "nope") == 1
    assert "No signing policy for form 'nope'" in capsys.readouterr().err


def test_form_fields_check(defaults: PolicySet, hospital_dir: Path) -> None:
    from policies.form_fields import check_form_fields

    forms = {("discharge_paper", "v1"): ("doctor", "director"),
             ("prescription", "v1"): ("doctor", "pharmacist"),
             ("treatment_sheet", "v1"): ("doctor_1",)}
    assert check_form_fields(defaults, forms) == []
    problems = check_form_fields(defaults, {("discharge_paper", "v1"): ("doctor",),
                                            ("new_form", "v1"): ("doctor",)})
    from policies.policy_set import DEFAULTS_DIR

    lines = (DEFAULTS_DIR / "signing" / "discharge_paper.yaml").read_text().splitlines()
    director = lines.index("  - role: director") + 1
    alternative = lines.index("    alternatives: [head_of_department]") + 1
    assert [(p.file, p.line, p.path) for p in problems] == [
        ("defaults/signing/discharge_paper.yaml", director, "steps[1].role"),
        ("defaults/signing/discharge_paper.yaml", alternative, "steps[1].alternatives[0]"),
        ("-", 0, "")]
    assert "field 'director'" in problems[0].message_en
    assert "'head_of_department' signs in field 'director'" in problems[1].message_en
    assert "new_form v1 has no signing policy" in problems[2].message_en


def test_cli_check_cross_checks_the_form_catalogue(capsys: pytest.CaptureFixture[str],
                                                  hospital_dir: Path) -> None:
    """A hospital policy naming a signer the form has no field for fails the check."""
    from templates.catalogue import load_form, versions

    fields = load_form("lab_result", versions("lab_result")[-1]).info.signature_fields
    assert "pharmacist" not in fields
    (hospital_dir / "lab_result.yaml").write_text(
        "kind: signing\nversion: '1'\nform: lab_result\ntitle_vi: a\ntitle_en: b\n"
        "legal_basis: c\nsteps:\n  - role: technician\n    methods: [hsm_key]\n"
        "  - role: pharmacist\n    methods: [hsm_key]\n", encoding="utf-8")
    assert _main("--lang", "en", "policies", "check", str(hospital_dir)) == 1
    out = capsys.readouterr().out
    assert f"{hospital_dir}/lab_result.yaml:10: steps[1].role: 'pharmacist' signs in field" in out


def test_policies_import_no_other_stage() -> None:
    """policies/ is read by the stages; it imports none of them (DESIGN §2)."""
    import subprocess
    import sys

    code = ("import json, sys, policies, policies.explain, policies.form_fields, "
            "policies.trust_update, policies.signing_rules; "
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2]).stdout
    loaded = set(json.loads(out))
    forbidden = {"api", "workflow", "signer", "archive", "templates", "hsm", "emr",
                 "pyhanko", "sqlalchemy", "minio", "fastapi"}
    assert not loaded & forbidden, loaded & forbidden
