"""Documents signed the way hsba signs them verify VALID at every PAdES level,
offline, with the level reached reported; a legitimate second signature in an
empty field is an allowed change."""

from __future__ import annotations

import json

import pytest

from signer.verify import verify_pdf
from tests.verify import documents
from tests.verify.pki import TestPki


@pytest.mark.parametrize("level,who", [("B-B", "nurse"), ("B-T", "nurse"),
                                       ("B-LT", "doctor"), ("B-LTA", "doctor")])
def test_levels_verify_valid(pki: TestPki, level: str, who: str) -> None:
    doc = documents.sign(documents.base_form(), pki, who=who, field=who, level=level)
    rep = verify_pdf(doc, trust_roots=[pki.root], offline=True, etsi_xml=True)
    assert rep.verdict == "VALID", json.dumps(rep.to_dict(), ensure_ascii=False)[:2000]
    sig = rep.signatures[0]
    assert sig.level == level
    assert sig.indication == "TOTAL_PASSED" and sig.subindication is None
    assert sig.certificate is not None and sig.certificate.serial
    assert sig.role == who
    assert rep.etsi_xml and "SignatureValidationReport" in rep.etsi_xml
    json.dumps(rep.to_dict())


def test_doctor_without_revocation_data_offline_is_indeterminate(pki: TestPki) -> None:
    """The doctor's certificate declares a CRL; B-T carries none, offline."""
    doc = documents.sign(documents.base_form(), pki, who="doctor", field="doctor", level="B-T")
    rep = verify_pdf(doc, trust_roots=[pki.root], offline=True)
    assert rep.verdict == "INDETERMINATE"
    assert rep.signatures[0].indication == "INDETERMINATE"


def test_second_signature_is_allowed_change(pki: TestPki) -> None:
    """hsba's flow: fields laid out by the template, the first signer certifies
    (DocMDP 2), the next one signs an empty field: an allowed change."""
    base = documents.with_signature_fields(documents.base_form(), {
        "nurse": (60, 60, 260, 120), "head_of_department": (300, 60, 500, 120)})
    doc = documents.sign(base, pki, who="nurse", field="nurse", level="B-T", certify=True)
    doc = documents.sign(doc, pki, who="nurse", field="head_of_department", level="B-T")
    rep = verify_pdf(doc, trust_roots=[pki.root], offline=True)
    assert rep.verdict == "VALID_WITH_ALLOWED_CHANGES", [s.findings for s in rep.signatures]
    assert rep.signatures[0].changes == "FORM_FILLING"


def test_untrusted_root_is_indeterminate_and_english(pki: TestPki) -> None:
    doc = documents.sign(documents.base_form(), pki, who="nurse", field="nurse", level="B-B")
    rep = verify_pdf(doc, offline=True, lang="en")
    assert rep.verdict == "INDETERMINATE"
    assert rep.signatures[0].subindication == "NO_CERTIFICATE_CHAIN_FOUND"
    assert rep.message().startswith("Indeterminate")
