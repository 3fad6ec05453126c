"""Documents signed by hsba's own signing engine (``signer.sign``) with the
shared test PKI served over real HTTP (certomancer animate: OCSP, CRL, TSA):
online verification fetches revocation data; offline uses only the DSS."""

from __future__ import annotations

from io import BytesIO

import pytest
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers

from signer.request import SignRequest
from signer.sign import sign_pdf
from signer.verify import verify_pdf
from tests.signer.conftest import SignerPki, _blank_form

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def spki(test_services, test_pki) -> SignerPki:  # type: ignore[no-untyped-def]
    return SignerPki(test_pki, test_services)


def _sign(spki: SignerPki, level: str) -> bytes:
    req = SignRequest(field_name="doctor", signer_name="BS. Nguyen Van A", role="Bác sĩ điều trị",
                      reason="Xác nhận nội dung", location="Khoa Nội", level=level, certify=True)
    return sign_pdf(_blank_form(), req, signer=spki.signer("doctor-ec"),
                    timestampers=() if level == "B-B" else (spki.timestamper(),),
                    revocation=spki.revocation())


def test_b_b_online_fetches_revocation_and_offline_cannot(spki: SignerPki) -> None:
    pdf = _sign(spki, "B-B")
    online = verify_pdf(pdf, trust_roots=[spki.root], offline=False)
    assert online.verdict == "VALID", online.to_dict()
    assert online.signatures[0].revocation == "GOOD"
    offline = verify_pdf(pdf, trust_roots=[spki.root], offline=True)
    assert offline.verdict == "INDETERMINATE"


def test_b_lta_verifies_offline(spki: SignerPki) -> None:
    pdf = _sign(spki, "B-LTA")
    rep = verify_pdf(pdf, trust_roots=[spki.root], offline=True)
    assert rep.verdict == "VALID", rep.to_dict()
    sig = rep.signatures[0]
    assert sig.level == "B-LTA" and sig.time_source == "timestamp"
    assert sig.role == "Bác sĩ điều trị" or sig.role == "doctor"


def test_revoked_signer_is_never_valid(spki: SignerPki) -> None:
    """hsba refuses to sign with a revoked certificate, so the file is made
    with pyHanko directly, as an outside party could."""
    w = IncrementalPdfFileWriter(BytesIO(_blank_form()))
    out = signers.sign_pdf(w, signers.PdfSignatureMetadata(field_name="doctor"),
                           signer=spki.signer("revoked"))
    rep = verify_pdf(out.getvalue(), trust_roots=[spki.root], offline=False)
    assert rep.verdict not in ("VALID", "VALID_WITH_ALLOWED_CHANGES")
    sig = rep.signatures[0]
    assert sig.subindication in ("REVOKED", "REVOKED_NO_POE"), sig
    assert sig.revocation == "REVOKED"
