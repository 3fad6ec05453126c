"""Fixtures of the signing engine's tests: the shared test PKI over real HTTP.

The shared test services (``tests/conftest.py``) run ``certomancer animate``
on 127.0.0.1: OCSP, CRL and RFC 3161 requests go over the network like in
production, so the B-T/B-LT/B-LTA paths, the revocation checks and the TSA
failover are real. Software signers use keys loaded once
(:class:`signer.keys.InMemoryKeySigner`); token keys are on SoftHSM2.
"""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import pem, x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields

from signer.keys import InMemoryKeySigner
from signer.revocation import OnlineRevocationSource
from signer.timestamps import FailoverTimeStamper, http_timestampers
from tests.conftest import TestServices
from tests.pki.testpki import LABELS, TestPki

FIELDS = ("doctor", "head_of_department", "patient", "nurse")


# my role names -> labels of the shared test PKI (tests/pki/pki.yml)
ROLES = {
    "doctor-rsa": LABELS.doctor_rsa,
    "doctor-ec": LABELS.doctor_ec,
    "nurse": LABELS.nurse,
    "revoked": LABELS.doctor_revoked,
    "expired": LABELS.doctor_expired,
    "future": LABELS.doctor_not_yet_valid,
    "weak": LABELS.doctor_weak_rsa1024,
    "seal": LABELS.hospital_seal,
}


@dataclass
class SignerPki:
    """The shared test PKI (served over HTTP by the test services) and the token."""

    pki: TestPki
    services: TestServices

    @property
    def root(self) -> x509.Certificate:
        return self.pki.root

    @property
    def interm(self) -> x509.Certificate:
        return self.pki.interm

    def tsa_url(self) -> str:
        return self.services.tsa_url

    def signer(self, role: str, *, prefer_pss: bool = False) -> InMemoryKeySigner:
        label = ROLES.get(role, role)
        chain = [self.pki.cert(label), *self.pki.chain(label)]
        return InMemoryKeySigner.from_chain(self.pki.private_key(label), chain,
                                            prefer_pss=prefer_pss)

    def revocation(self) -> OnlineRevocationSource:
        return OnlineRevocationSource([self.root], other_certs=[self.interm], timeout_s=5)

    def timestamper(self) -> FailoverTimeStamper:
        return FailoverTimeStamper(http_timestampers([self.tsa_url()], timeout_s=5))

    def write_trust(self, directory: Path) -> tuple[Path, Path]:
        """PEM files of the root and of root + intermediate (for openssl)."""
        root = directory / "root.pem"
        root.write_bytes(pem.armor("CERTIFICATE", self.root.dump()))
        cas = directory / "cas.pem"
        cas.write_bytes(pem.armor("CERTIFICATE", self.root.dump())
                        + pem.armor("CERTIFICATE", self.interm.dump()))
        return root, cas


@pytest.fixture(scope="session")
def signer_pki(test_services: TestServices, test_pki: TestPki) -> SignerPki:
    return SignerPki(test_pki, test_services)


def _blank_form() -> bytes:
    """A one-page form with empty signature fields (fallback when templates/ is absent)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.writer import PdfFileWriter

    w = PdfFileWriter()
    w.insert_page(
        generic.DictionaryObject({
            generic.NameObject("/Type"): generic.NameObject("/Page"),
            generic.NameObject("/MediaBox"): generic.ArrayObject(
                [generic.NumberObject(n) for n in (0, 0, 595, 842)]),
            generic.NameObject("/Resources"): generic.DictionaryObject(),
        })
    )
    buf = BytesIO()
    w.write(buf)
    inc = IncrementalPdfFileWriter(BytesIO(buf.getvalue()))
    for i, name in enumerate(FIELDS):
        x = 40 + (i % 2) * 270
        y = 80 + (i // 2) * 110
        fields.append_signature_field(inc, fields.SigFieldSpec(name, box=(x, y, x + 240, y + 90)))
    out = BytesIO()
    inc.write(out)
    return out.getvalue()


@pytest.fixture(scope="session")
def form_pdf() -> bytes:
    """A clinical form with signature fields ``doctor``, ``patient``...: the forms
    engineer's PDF/A-3b rendering when available, else a blank one-pager."""
    try:
        from templates.render import render_form, sample_data

        rendered = render_form(
            "consent_surgery", sample_data("consent_surgery"),
            document_id="DOC-TEST-1", verify_url="http://127.0.0.1/verify/DOC-TEST-1",
        )
        names = {f.name for f in rendered.signature_fields}
        if {"doctor", "patient"} <= names:
            return rendered.pdf
    except Exception:  # noqa: BLE001, S110 - templates/ still in progress: fall back
        pass
    return _blank_form()
