"""The shared SoftHSM2 token as provisioned by scripts/test-services.sh: keys generated on
the token, certificates from the certomancer test PKI served over real HTTP (OCSP, TSA)."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend

from hsm.pkcs11 import Pkcs11Keystore

pytestmark = pytest.mark.services


@pytest.fixture()
def provisioned(test_services: Any) -> Pkcs11Keystore:
    return Pkcs11Keystore(test_services.pkcs11_module, test_services.pkcs11_token_label,
                          test_services.pkcs11_user_pin)


def _context(test_pki: Any) -> ValidationContext:
    return ValidationContext(trust_roots=[test_pki.root], other_certs=[test_pki.interm],
                             allow_fetching=True, revocation_mode="require",
                             fetcher_backend=RequestsFetcherBackend())


def test_provisioned_keys_are_listed(provisioned: Pkcs11Keystore, test_services: Any) -> None:
    keys = {k.key_id: k for k in provisioned.list_keys()}
    assert set(test_services.pkcs11_keys) <= set(keys)
    assert keys["doctor-an"].algorithm == "rsa2048"
    assert keys["doctor-binh-ec"].algorithm == "ecdsa-p256"
    assert keys["seal"].algorithm == "rsa3072"
    assert all(keys[k].status == "active" for k in test_services.pkcs11_keys)
    assert "interm" not in keys and "root" not in keys  # CA certificates are not keys


@pytest.mark.parametrize(("key_id", "pss", "mechanism"), [
    ("doctor-an", False, "sha256_rsa"),
    ("doctor-an", True, "rsassa_pss"),
    ("doctor-binh-ec", False, "sha256_ecdsa"),
    ("seal", False, "sha256_rsa"),
])
def test_signatures_validate_against_the_test_pki_over_http(
    provisioned: Pkcs11Keystore, test_pki: Any, test_services: Any, one_page_pdf: bytes,
    sign_and_validate, key_id: str, pss: bool, mechanism: str,
) -> None:
    signer = provisioned.signer_for(key_id, pss=pss)
    assert [c.dump() for c in provisioned.chain(key_id)] == \
        [test_pki.interm.dump(), test_pki.root.dump()]
    timestamper = HTTPTimeStamper(test_services.tsa_url) if key_id == "doctor-binh-ec" else None
    data, status = asyncio.run(sign_and_validate(
        one_page_pdf, signer, signing_context=_context(test_pki) if timestamper else None,
        validation_context=_context(test_pki), timestamper=timestamper))
    assert status.bottom_line, status.summary()
    assert status.pkcs7_signature_mechanism == mechanism
    if timestamper is not None:  # B-LTA: signature timestamp, DSS, document timestamp
        assert status.timestamp_validity is not None and status.timestamp_validity.valid
        reader = PdfFileReader(io.BytesIO(data))
        assert "/DSS" in reader.root
        assert len(reader.embedded_signatures) == 2  # the signature + the document timestamp
