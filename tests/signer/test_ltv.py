"""B-LTA by extension (one revision) and renewal by re-timestamping, checked offline."""

from __future__ import annotations

from io import BytesIO

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from signer.ltv import extend_to_lta, retimestamp
from signer.request import SignRequest
from signer.sign import sign_pdf
from tests.signer import checks

pytestmark = pytest.mark.services


def _revisions(pdf: bytes) -> int:
    return PdfFileReader(BytesIO(pdf)).xrefs.total_revisions


def test_two_signers_then_extend_then_renew(signer_pki, form_pdf, tmp_path):
    ts, rev = signer_pki.timestamper(), signer_pki.revocation()
    doc = sign_pdf(form_pdf, SignRequest("doctor", "Nguyễn Văn An", level="B-T", certify=True),
                   signer=signer_pki.signer("doctor-rsa"), timestampers=[ts], revocation=rev)
    doc = sign_pdf(doc, SignRequest("head_of_department", "Lê Minh Châu", level="B-T"),
                   signer=signer_pki.signer("nurse"), timestampers=[ts], revocation=rev)
    before = _revisions(doc)
    lta = extend_to_lta(doc, timestampers=[ts], revocation=rev)
    assert _revisions(lta) == before + 1, "DSS and document timestamp share one revision"
    assert lta.startswith(doc)
    checks.assert_ades_passed(lta, signer_pki.root, "B-LTA", 2)

    renewed = retimestamp(lta, timestampers=[ts], revocation=rev)
    assert _revisions(renewed) == _revisions(lta) + 1
    assert renewed.startswith(lta)
    reader = PdfFileReader(BytesIO(renewed))
    assert len(reader.embedded_timestamp_signatures) == 2
    checks.assert_ades_passed(renewed, signer_pki.root, "B-LTA", 2)
    _, cas = signer_pki.write_trust(tmp_path)
    for data, der in checks.byte_ranges(renewed)[-2:]:
        checks.openssl_ts_verify(der, data, cas, tmp_path)
    (tmp_path / "r.pdf").write_bytes(renewed)
    checks.assert_pdfsig_valid(tmp_path / "r.pdf", 2)


def test_b_lta_signing_uses_two_revisions(signer_pki, form_pdf):
    signed = sign_pdf(form_pdf, SignRequest("doctor", "A", level="B-LTA"),
                      signer=signer_pki.signer("doctor-ec"),
                      timestampers=[signer_pki.timestamper()], revocation=signer_pki.revocation())
    assert _revisions(signed) == _revisions(form_pdf) + 2


def test_b_lt_signature_whose_cms_has_no_chain_extends_to_lta(signer_pki, form_pdf):
    """A B-LT CMS carries only its signing certificate (the chain is in the DSS):
    extending it builds the path from the DSS and still validates offline. The
    revocation source knows only the root (like the services profile)."""
    from signer.revocation import OnlineRevocationSource

    ts, rev = signer_pki.timestamper(), OnlineRevocationSource([signer_pki.root], timeout_s=5)
    doc = sign_pdf(form_pdf, SignRequest("doctor", "Nguyễn Văn An", level="B-LT", certify=True),
                   signer=signer_pki.signer("doctor-rsa"), timestampers=[ts], revocation=rev)
    sig = PdfFileReader(BytesIO(doc)).embedded_regular_signatures[0]
    assert len(sig.signed_data["certificates"]) == 1
    lta = extend_to_lta(doc, timestampers=[ts], revocation=rev)
    assert _revisions(lta) == _revisions(doc) + 1
    checks.assert_ades_passed(lta, signer_pki.root, "B-LTA", 1)
