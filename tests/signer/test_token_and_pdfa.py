"""Signing with keys on the SoftHSM2 token (never leaving it), and PDF/A kept after signing."""

from __future__ import annotations

from pathlib import Path

import pytest

from signer.request import SignRequest
from signer.sign import sign_pdf
from tests.signer import checks

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def token(test_services):
    from hsm.pkcs11 import Pkcs11Keystore

    return Pkcs11Keystore(test_services.pkcs11_module, test_services.pkcs11_token_label,
                          test_services.pkcs11_user_pin)


@pytest.mark.parametrize("level", ["B-B", "B-T", "B-LT", "B-LTA"])
@pytest.mark.parametrize("role,pss", [("token_doctor_rsa", False), ("token_doctor_rsa", True),
                                      ("token_doctor_ec", False)])
def test_token_key_every_level(token, signer_pki, form_pdf, tmp_path: Path, level, role, pss):
    key_id = getattr(signer_pki.pki.labels, role)
    signer = token.signer_for(key_id, pss=pss)
    signed = sign_pdf(
        form_pdf,
        SignRequest("doctor", "Token", level=level, certify=True, use_pss=pss),  # type: ignore[arg-type]
        signer=signer, timestampers=[signer_pki.timestamper()],
        revocation=signer_pki.revocation(),
    )
    checks.assert_ades_passed(signed, signer_pki.root, level, 1)
    _, cas = signer_pki.write_trust(tmp_path)
    data, der = checks.byte_ranges(signed)[0]
    assert checks.signature_algorithms(der)[0] == (
        "rsassa_pss" if pss else "ecdsa" if "ec" in role else "rsassa_pkcs1v15")
    checks.openssl_cms_verify(data, der, cas, tmp_path)
    if level != "B-B":
        tok = checks.timestamp_tokens(der)[0]
        checks.openssl_ts_verify(tok, checks.signature_values(der)[0], cas, tmp_path)
    (tmp_path / "t.pdf").write_bytes(signed)
    checks.assert_pdfsig_valid(tmp_path / "t.pdf", 1)


def test_signed_form_stays_pdfa(signer_pki, form_pdf):
    from templates.pdfa import check_pdfa

    before = check_pdfa(form_pdf)
    if before.verdict != "PASS":
        pytest.fail(f"the rendered form is not PDF/A to begin with: {before}")
    doc = sign_pdf(form_pdf, SignRequest("doctor", "Nguyễn Văn An", role="Bác sĩ điều trị",
                                         level="B-LTA", certify=True),
                   signer=signer_pki.signer("doctor-rsa"),
                   timestampers=[signer_pki.timestamper()], revocation=signer_pki.revocation())
    report = check_pdfa(doc)
    assert report.verdict == "PASS", report.failures
    doc = sign_pdf(doc, SignRequest("head_of_department", "B", level="B-B", visible=False),
                   signer=signer_pki.signer("doctor-ec"))
    report = check_pdfa(doc)
    assert report.verdict == "PASS", report.failures


def test_patient_seal_with_handwriting_stays_pdfa(signer_pki, form_pdf):
    import hashlib
    from datetime import UTC, datetime

    from signer.patient import PatientConfirmation, seal_patient_confirmation
    from templates.pdfa import check_pdfa
    from tests.signer.test_patient_merge_batch import _png

    conf = PatientConfirmation("Trần Văn Bệnh", "handwritten_pad",
                               hashlib.sha256(b"e").hexdigest(), "tablet-7",
                               datetime.now(UTC), handwritten_png=_png())
    sealed, _ = seal_patient_confirmation(form_pdf, conf, seal_signer=signer_pki.signer("seal"),
                                          level="B-B")
    report = check_pdfa(sealed)
    assert report.verdict == "PASS", report.failures
