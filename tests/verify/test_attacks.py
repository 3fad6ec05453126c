"""Attacks generated from an hsba-style signed form: each must come out
MODIFIED_AFTER_SIGNING or INVALID, never VALID / VALID_WITH_ALLOWED_CHANGES.
Runs the real pipeline: pyHanko validation + hsba's checks in the bounded
worker; the test PKI is certomancer in-process (no network needed)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from signer.verify import verify_pdf
from tests.verify import documents
from tests.verify.pki import TestPki

NEVER_VALID = {"MODIFIED_AFTER_SIGNING", "INVALID"}

ATTACKS: dict[str, Callable[[bytes], bytes]] = {
    "incremental_normal_xref": documents.incremental_content_change,
    "incremental_empty_xref": documents.empty_xref_section,
    "incremental_hidden_no_xref": documents.hidden_revision,
    "incremental_inconsistent_xref": documents.inconsistent_xref,
    "universal_forgery_zero_contents": documents.zero_contents,
    "byterange_not_at_start": documents.byterange_not_at_start,
    "byterange_overlapping": documents.byterange_overlapping,
    "signature_wrapping": documents.signature_wrapping,
    "shadow_replace_form_field": documents.shadow_replace_form_field,
    "shadow_hide_form_field": documents.shadow_hide_form_field,
    "shadow_hide_and_replace_overlay": documents.overlay_annotation,
    "changed_object_reference": documents.changed_object_reference,
}


def test_baseline_is_valid(pki: TestPki, signed_form: bytes) -> None:
    rep = verify_pdf(signed_form, trust_roots=[pki.root], offline=True)
    assert rep.verdict == "VALID", rep.to_dict()
    sig = rep.signatures[0]
    assert sig.level == "B-T" and sig.time_source == "timestamp"
    assert sig.indication == "TOTAL_PASSED" and sig.coverage == "ENTIRE_FILE"


def test_every_attack_is_caught(pki: TestPki, signed_form: bytes) -> None:
    def run(item: tuple[str, Callable[[bytes], bytes]]) -> tuple[str, str, list[str]]:
        name, attack = item
        rep = verify_pdf(attack(signed_form), trust_roots=[pki.root], offline=True, lang="en")
        codes = [f.code for f in rep.findings] + [f.code for s in rep.signatures for f in s.findings]
        return name, rep.verdict, codes

    with ThreadPoolExecutor(max_workers=2) as pool:
        rows = list(pool.map(run, ATTACKS.items()))
    print()
    for name, verdict, codes in rows:
        print(f"{name:<34} {verdict:<24} {','.join(codes)}")
    assert all(v in NEVER_VALID for _, v, _ in rows), rows


def test_shadow_replace_is_caught_by_rendering(pki: TestPki, signed_form: bytes) -> None:
    """pyHanko rates this form filling; hsba's rendering comparison flags it."""
    rep = verify_pdf(documents.shadow_replace_form_field(signed_form), trust_roots=[pki.root],
                     offline=True)
    sig = rep.signatures[0]
    assert sig.changes == "FORM_FILLING"
    assert any(f.code == "render.signed_content_changed" for f in sig.findings)
    assert rep.verdict == "MODIFIED_AFTER_SIGNING"


def test_empty_xref_section_is_caught_structurally(pki: TestPki, signed_form: bytes) -> None:
    rep = verify_pdf(documents.empty_xref_section(signed_form), trust_roots=[pki.root], offline=True)
    assert any(f.code == "xref.hidden_objects" for f in rep.findings)
    assert rep.verdict == "MODIFIED_AFTER_SIGNING"


@pytest.mark.parametrize("case", ["evil_annotation", "sneaky_signature", "docmdp_violation"])
def test_certification_attacks(pki: TestPki, case: str) -> None:
    if case == "evil_annotation":
        # certified allowing form filling only (P=2); an annotation is then added
        doc = documents.sign(documents.base_form(), pki, certify=True, docmdp=2, level="B-T")
        doc = documents.overlay_annotation(doc)
    elif case == "sneaky_signature":
        doc = documents.sign(documents.base_form(), pki, certify=True, docmdp=2, level="B-T")
        doc = documents.sneaky_signature_field(doc)
    else:
        # certified with no changes allowed (P=1); the form is then filled
        doc = documents.sign(documents.base_form(), pki, certify=True, docmdp=1, level="B-T")
        doc = documents.shadow_replace_form_field(doc)
    rep = verify_pdf(doc, trust_roots=[pki.root], offline=True)
    first = rep.signatures[0]
    assert first.docmdp in (1, 2)
    if case != "sneaky_signature":
        assert first.docmdp_ok is False
    assert rep.verdict in NEVER_VALID
