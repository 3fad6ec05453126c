"""Revocation data: cached while fresh, one validation context per signature,
and no answer from OCSP/CRL means no signature."""

from __future__ import annotations

from io import BytesIO

import pytest
from asn1crypto import ocsp
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko_certvalidator import errors as cv_errors
from pyhanko_certvalidator.fetchers.api import (
    CertificateFetcher,
    CRLFetcher,
    FetcherBackend,
    Fetchers,
    OCSPFetcher,
)

from core.errors import UnavailableError
from signer.request import SignRequest
from signer.revocation import OnlineRevocationSource
from signer.sign import sign_pdf

pytestmark = pytest.mark.services


def _dss_ocsp_serials(pdf: bytes) -> set[int]:
    dss = DocumentSecurityStore.read_dss(PdfFileReader(BytesIO(pdf)))
    serials = set()
    for ref in dss.ocsps:
        resp = ocsp.OCSPResponse.load(ref.get_object().data)
        basic = resp["response_bytes"]["response"].parsed
        for single in basic["tbs_response_data"]["responses"]:
            serials.add(single["cert_id"]["serial_number"].native)
    return serials


def test_responses_cached_and_each_dss_holds_its_own(signer_pki, form_pdf):
    source = signer_pki.revocation()
    ts = signer_pki.timestamper()
    rsa, ec = signer_pki.signer("doctor-rsa"), signer_pki.signer("doctor-ec")
    a = sign_pdf(form_pdf, SignRequest("doctor", "A", level="B-LT"), signer=rsa,
                 timestampers=[ts], revocation=source)
    misses = source.cache.misses
    b = sign_pdf(form_pdf, SignRequest("doctor", "B", level="B-LT"), signer=ec,
                 timestampers=[ts], revocation=source)
    again = sign_pdf(form_pdf, SignRequest("doctor", "A", level="B-LT"), signer=rsa,
                     timestampers=[ts], revocation=source)
    assert source.cache.hits > 0, "fresh OCSP/CRL answers are reused"
    assert source.cache.misses <= misses + 1, "the second RSA signature fetched nothing new"
    rsa_serial = rsa.signing_cert.serial_number
    ec_serial = ec.signing_cert.serial_number
    assert rsa_serial in _dss_ocsp_serials(a) and ec_serial not in _dss_ocsp_serials(a)
    assert ec_serial in _dss_ocsp_serials(b) and rsa_serial not in _dss_ocsp_serials(b)
    assert rsa_serial in _dss_ocsp_serials(again)


class _Down(OCSPFetcher, CRLFetcher, CertificateFetcher):
    """Stands for OCSP responders and CRL servers that do not answer (a fake: the
    shared services cannot stop only the revocation endpoints)."""

    async def fetch(self, cert, *args, **kwargs):  # type: ignore[override]
        if args and not kwargs:
            raise cv_errors.OCSPFetchError("responder down")
        raise cv_errors.CRLFetchError("CRL server down")

    def fetched_responses(self):
        return []

    def fetched_responses_for_cert(self, cert):
        return []

    def fetched_crls(self):
        return []

    def fetched_crls_for_cert(self, cert):
        return []

    async def fetch_cert_issuers(self, cert):  # type: ignore[override]
        return
        yield

    async def fetch_crl_issuers(self, certificate_list):  # type: ignore[override]
        return
        yield

    def fetched_certs(self):
        return []


class _DownBackend(FetcherBackend):
    def get_fetchers(self) -> Fetchers:
        down = _Down()
        return Fetchers(ocsp_fetcher=down, crl_fetcher=down, cert_fetcher=down)


@pytest.mark.parametrize("level", ["B-B", "B-LTA"])
def test_no_revocation_answer_no_signature(signer_pki, form_pdf, level):
    source = OnlineRevocationSource([signer_pki.root], other_certs=[signer_pki.interm],
                                    backend=_DownBackend())
    with pytest.raises(UnavailableError) as e:
        sign_pdf(form_pdf, SignRequest("doctor", "A", level=level),
                 signer=signer_pki.signer("doctor-rsa"),
                 timestampers=[signer_pki.timestamper()], revocation=source)
    assert e.value.code == "sign.revocation_unavailable"
