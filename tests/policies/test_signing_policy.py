"""Signing policies: every form has one; order, methods and algorithm strength enforced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.errors import PolicyError
from policies import PolicySet, SignatureAttempt, load_policies
from templates.catalogue import form_codes, load_form, versions

CONTRACT_FORMS = (
    "consent_surgery", "drug_disclosure", "billing_01kbcb", "discharge_paper", "record_summary",
    "lab_result", "treatment_sheet", "care_sheet", "outpatient_record_15bv1", "prescription",
    "inpatient_record_01bv1",
)
STRONG = {"algorithm": "rsa-pss", "key_size": 3072, "digest": "sha256"}


def test_every_form_of_the_library_has_a_signing_policy(defaults: PolicySet) -> None:
    library = set(CONTRACT_FORMS) | set(form_codes())
    missing = library - set(defaults.forms())
    assert not missing, f"forms without a signing policy: {sorted(missing)}"
    for code in library:
        sp = defaults.signing(code)
        assert sp.final_level == "B-LTA"
        assert sp.timestamp_each_signature
        assert sp.certify is not None and sp.certify.docmdp == "fill_forms"
        assert sp.next_steps([]), code
        # the form's template lays out a field for every (non-repeated) step
        if code in form_codes() and versions(code):
            fields = set(load_form(code).info.signature_fields)
            for step in sp.all_steps:
                for role in step.accepted_roles:
                    if not step.repeatable:
                        assert step.field_for(role) in fields, (code, role, fields)


def test_unknown_form_cannot_be_signed(defaults: PolicySet) -> None:
    with pytest.raises(PolicyError) as e:
        defaults.signing("no_such_form")
    assert e.value.code == "policy.no_signing_policy"
    assert "no_such_form" in e.value.message_en and "no_such_form" in e.value.message_vi


def test_consent_surgery_order_and_completion(defaults: PolicySet) -> None:
    sp = defaults.signing("consent_surgery")
    assert [s.role for s in sp.next_steps([])] == ["doctor"]
    assert sp.certifies("doctor", [])
    assert not sp.certifies("patient", ["doctor"])
    assert [s.role for s in sp.next_steps(["doctor"])] == ["patient"]
    assert not sp.is_complete(["doctor"])
    # the representative may confirm in place of the patient
    sp.check_signature("representative", "fingerprint", signed_roles=["doctor"], **STRONG)
    assert sp.step_for("representative").field_for("representative") == "representative"
    assert sp.step_for("patient").seal == "organisation_seal"
    assert [s.role for s in sp.next_steps(["doctor", "representative"])] == [
        "head_of_department"]
    assert sp.is_complete(["doctor", "representative", "head_of_department"])
    assert sp.is_complete(["doctor", "patient", "head_of_department"])
    assert not sp.is_complete(["doctor", "patient"])


def test_inpatient_record_doctor_certifies_then_head_approves(defaults: PolicySet) -> None:
    sp = defaults.signing("inpatient_record_01bv1")
    assert [s.role for s in sp.next_steps([])] == ["doctor"]
    assert sp.certifies("doctor", []) and not sp.certifies("head_of_department", ["doctor"])
    assert [s.role for s in sp.next_steps(["doctor"])] == ["head_of_department"]
    assert not sp.is_complete(["doctor"]) and sp.is_complete(["doctor", "head_of_department"])
    with pytest.raises(PolicyError) as e:
        sp.check_signature("head_of_department", "hsm_key", signed_roles=[], **STRONG)
    assert e.value.code == "policy.out_of_order"
    assert "Bác sĩ làm bệnh án" in e.value.message_vi
    # an inpatient record whatever the encounter says: INPATIENT_10Y, raised by events
    retention = defaults.retention
    assert retention.form_record_types["inpatient_record_01bv1"] == "inpatient"
    decision = retention.classify(retention.form_record_types["inpatient_record_01bv1"])
    assert (decision.class_name, decision.years) == ("INPATIENT_10Y", 10)
    assert retention.classify("inpatient", ["death"]).class_name == "DEATH_30Y"


def test_out_of_order_is_refused_with_a_clear_message(defaults: PolicySet) -> None:
    sp = defaults.signing("consent_surgery")
    with pytest.raises(PolicyError) as e:
        sp.check_signature("patient", "patient_pad", signed_roles=[], **STRONG)
    assert e.value.code == "policy.out_of_order"
    assert "Explaining doctor" in e.value.message_en
    assert "Sai thứ tự" in e.value.message_vi and "Bác sĩ giải thích" in e.value.message_vi
    assert e.value.details["expected"] == ["doctor"]


def test_signing_twice_and_foreign_roles_are_refused(defaults: PolicySet) -> None:
    sp = defaults.signing("lab_result")
    with pytest.raises(PolicyError) as e:
        sp.check_signature("technician", "hsm_key", signed_roles=["technician"], **STRONG)
    assert e.value.code == "policy.already_signed"
    with pytest.raises(PolicyError) as e:
        sp.check_signature("cashier", "hsm_key", signed_roles=[], **STRONG)
    assert e.value.code == "policy.role_not_in_form"
    assert "technician" in e.value.message_en


@pytest.mark.parametrize(("form", "role", "method", "signed"), [
    ("consent_surgery", "doctor", "otp", []),
    ("consent_surgery", "patient", "hsm_key", ["doctor"]),
    ("billing_01kbcb", "patient", "organisation_seal", ["cashier"]),
    ("prescription", "doctor", "patient_pad", []),
])
def test_disallowed_method_is_refused(defaults: PolicySet, form: str, role: str, method: str,
                                      signed: list[str]) -> None:
    sp = defaults.signing(form)
    with pytest.raises(PolicyError) as e:
        sp.check_signature(role, method, signed_roles=signed, **STRONG)
    assert e.value.code == "policy.method_not_allowed"
    assert f"'{method}'" in e.value.message_en and "allowed:" in e.value.message_en
    assert "không được phép" in e.value.message_vi


@pytest.mark.parametrize(("algorithm", "key_size", "digest", "needle"), [
    ("rsa-pkcs1v15", 1024, "sha256", "RSA key of 1024 bits"),
    ("rsa-pss", 2047, "sha256", "below the minimum 2048"),
    ("ecdsa", 224, "sha256", "EC key of 224 bits"),
    ("rsa-pss", 2048, "sha1", "digest 'sha1'"),
    ("rsa-pss", 4096, "md5", "digest 'md5'"),
    ("dsa", 3072, "sha256", "algorithm 'dsa'"),
])
def test_weak_algorithm_is_refused(defaults: PolicySet, algorithm: str, key_size: int,
                                   digest: str, needle: str) -> None:
    sp = defaults.signing("prescription")
    with pytest.raises(PolicyError) as e:
        sp.check_signature("doctor", "hsm_key", algorithm, key_size, digest, [])
    assert e.value.code == "policy.weak_algorithm"
    assert needle in e.value.message_en
    assert "TT 15/2025/TT-BKHCN" in e.value.message_vi


@pytest.mark.parametrize(("algorithm", "key_size", "digest"), [
    ("rsa-pss", 2048, "sha256"), ("rsa-pkcs1v15", 4096, "SHA-512"), ("ecdsa", 256, "sha384"),
])
def test_law_strength_is_accepted(defaults: PolicySet, algorithm: str, key_size: int,
                                  digest: str) -> None:
    defaults.signing("prescription").check_signature("doctor", "remote_signing", algorithm,
                                                     key_size, digest, [])


def test_treatment_sheet_doctor_signs_each_entry(defaults: PolicySet) -> None:
    sp = defaults.signing("treatment_sheet")
    sp.check_signature("doctor", "hsm_key", signed_roles=[], **STRONG)
    sp.check_signature("doctor", "hsm_key", signed_roles=["doctor", "doctor"], **STRONG)
    assert sp.is_complete(["doctor"])
    assert sp.certifies("doctor", []) and not sp.certifies("doctor", ["doctor"])


def test_discharge_paper_director_or_head_of_department(defaults: PolicySet) -> None:
    sp = defaults.signing("discharge_paper")
    assert [s.role for s in sp.next_steps(["doctor"])] == ["director"]
    sp.check_signature("head_of_department", "hsm_key", signed_roles=["doctor"], **STRONG)
    assert sp.step_for("head_of_department").field_name == "director"
    assert sp.is_complete(["doctor", "head_of_department"])
    with pytest.raises(PolicyError):
        sp.check_signature("director", "hsm_key", signed_roles=["doctor", "head_of_department"],
                           **STRONG)


def test_check_via_protocol_face(defaults: PolicySet) -> None:
    sp = defaults.signing("record_summary")
    sp.check(SignatureAttempt(role="doctor", method="hsm_key", **STRONG))
    with pytest.raises(PolicyError):
        sp.check(SignatureAttempt(role="head_of_department", method="hsm_key", **STRONG))


def test_deadlines(defaults: PolicySet) -> None:
    sp = defaults.signing("discharge_paper")
    created = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    assert sp.deadline(sp.next_steps([])[0], created) == created + timedelta(hours=24)
    assert sp.overdue_steps([], created, created + timedelta(hours=23)) == []
    late = sp.overdue_steps([], created, created + timedelta(hours=25))
    assert [s.role for s in late] == ["doctor"]
    assert [s.role for s in sp.overdue_steps(["doctor"], created,
                                             created + timedelta(hours=80))] == ["director"]


def test_adding_a_step_to_a_copied_policy_changes_behaviour(defaults_copy: Path) -> None:
    """A hospital adds a head-of-department signature to the discharge paper: no code change."""
    path = defaults_copy / "signing" / "discharge_paper.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("    alternatives: [head_of_department]\n", "")
    text = text.replace(
        "  - role: director\n",
        "  - role: head_of_department\n    methods: [hsm_key, remote_signing]\n"
        "  - role: director\n")
    path.write_text(text, encoding="utf-8")
    edited = load_policies(defaults_copy)
    sp = edited.signing("discharge_paper")
    assert [s.role for s in sp.next_steps(["doctor"])] == ["head_of_department"]
    assert not sp.is_complete(["doctor", "director"])
    with pytest.raises(PolicyError) as e:
        sp.check_signature("director", "hsm_key", signed_roles=["doctor"], **STRONG)
    assert e.value.code == "policy.out_of_order"
    sp.check_signature("head_of_department", "hsm_key", signed_roles=["doctor"], **STRONG)
    assert [s.role for s in sp.next_steps(["doctor", "head_of_department"])] == ["director"]
    assert sp.is_complete(["doctor", "head_of_department", "director"])
    assert [f.origin for f in edited.files if f.identity == "signing:discharge_paper"] == [
        "hospital"]


def test_parallel_group_any_order(hospital_dir: Path) -> None:
    (hospital_dir / "record_summary.yaml").write_text("""
kind: signing
version: "h-1"
form: record_summary
title_vi: Tóm tắt hồ sơ bệnh án
title_en: Medical record summary
legal_basis: quy chế bệnh viện
certify: {role: doctor}
steps:
  - role: doctor
    methods: [hsm_key]
  - parallel:
      - role: head_of_department
        methods: [hsm_key]
      - role: pharmacist
        methods: [remote_signing]
  - role: director
    methods: [hsm_key]
""", encoding="utf-8")
    sp = load_policies(hospital_dir).signing("record_summary")
    assert {s.role for s in sp.next_steps(["doctor"])} == {"head_of_department", "pharmacist"}
    sp.check_signature("pharmacist", "remote_signing", signed_roles=["doctor"], **STRONG)
    assert [s.role for s in sp.next_steps(["doctor", "pharmacist"])] == ["head_of_department"]
    with pytest.raises(PolicyError):
        sp.check_signature("director", "hsm_key", signed_roles=["doctor", "pharmacist"], **STRONG)
    assert sp.is_complete(["doctor", "pharmacist", "head_of_department", "director"])


def test_form_version_specific_policy(hospital_dir: Path, defaults: PolicySet) -> None:
    (hospital_dir / "prescription_v9.yaml").write_text("""
kind: signing
version: "h-2"
form: prescription
form_versions: ["v9"]
title_vi: Đơn thuốc
title_en: Prescription
legal_basis: quy chế
steps:
  - role: doctor
    methods: [hsm_key]
  - role: pharmacist
    methods: [hsm_key]
""", encoding="utf-8")
    ps = load_policies(hospital_dir)
    assert [s.role for s in ps.signing("prescription", "v9").all_steps] == ["doctor", "pharmacist"]
    assert [s.role for s in ps.signing("prescription", "v1").all_steps] == ["doctor"]
    assert [s.role for s in ps.signing("prescription").all_steps] == ["doctor"]
    assert ps.version != defaults.version
