"""pyHanko's own ``CSCSigner`` signs PDFs through hsba's CSC service over real HTTP
(uvicorn on loopback); the only hsba code on the client side is the authorisation call
(``hsm.remote.csc.PinOtpAuthorization``). Results pass pyHanko AdES validation
(offline, trust anchor = the development PKI's root) and poppler's ``pdfsig``."""

from __future__ import annotations

import asyncio
import base64
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest
from csc_helpers import assert_valid, sign_with_csc
from pyhanko.pdf_utils.reader import PdfFileReader


def csc_login(env: Any, role: str = "clinician") -> str:
    return str(env.token(role))


@pytest.mark.parametrize("api_ver", ["v1", "v2"])
def test_pyhanko_csc_signer_signs_through_hsba(csc_env: Any, one_page_pdf: bytes,
                                               tmp_path: Path, api_ver: str) -> None:
    token = csc_login(csc_env)
    key_id = csc_env.logins["clinician"].key_id
    before = csc_env.csc.signer.usage(key_id)
    signed, authorizations = asyncio.run(sign_with_csc(csc_env, token, [one_page_pdf],
                                                       api_ver=api_ver, plain_pyhanko=True))
    assert authorizations == 1
    assert csc_env.csc.signer.usage(key_id) == before + 1
    assert_valid(csc_env, signed[0], tmp_path, api_ver)
    cert = PdfFileReader(BytesIO(signed[0])).embedded_signatures[0].signer_cert
    assert cert.dump() == csc_env.services.keystore.certificate(key_id).dump()


def test_rsassa_pss_through_csc(csc_env: Any, one_page_pdf: bytes, tmp_path: Path) -> None:
    token = csc_login(csc_env)
    signed, _ = asyncio.run(sign_with_csc(csc_env, token, [one_page_pdf], prefer_pss=True))
    sig = PdfFileReader(BytesIO(signed[0])).embedded_signatures[0]
    assert sig.signer_info["signature_algorithm"]["algorithm"].native == "rsassa_pss"
    assert_valid(csc_env, signed[0], tmp_path, "pss")


def test_one_authorisation_covers_a_batch(csc_env: Any, one_page_pdf: bytes,
                                          tmp_path: Path) -> None:
    """numSignatures = 5: one credentials/authorize, one signHash with five hashes."""
    token = csc_login(csc_env)
    entries_before = len(csc_env.services.audit.entries(limit=100000))
    signed, authorizations = asyncio.run(
        sign_with_csc(csc_env, token, [one_page_pdf] * 5))
    assert authorizations == 1 and len(signed) == 5
    for i, pdf in enumerate(signed):
        assert_valid(csc_env, pdf, tmp_path, f"batch{i}")
    new = csc_env.services.audit.entries(limit=100000)[entries_before:]
    csc_events = [e.details for e in new if e.details.get("csc")]
    assert [(d["csc"], d.get("num_signatures")) for d in csc_events] == [
        ("credentials/authorize", 5), ("signatures/signHash", 5)]


def test_hsba_signer_sends_the_same_signed_attributes(csc_env: Any, one_page_pdf: bytes,
                                                     ) -> None:
    """``HsbaCscSigner`` (signing-certificate attribute encoded once per credential)
    produces the same signed attributes as pyHanko's ``CSCSigner``: same types in the
    same order, the same signing-certificate-v2 value naming the signer's certificate."""
    import hashlib

    token = csc_login(csc_env)
    plain, _ = asyncio.run(sign_with_csc(csc_env, token, [one_page_pdf], plain_pyhanko=True))
    ours, _ = asyncio.run(sign_with_csc(csc_env, token, [one_page_pdf] * 2))

    def attrs(pdf: bytes) -> dict[str, bytes]:
        info = PdfFileReader(BytesIO(pdf)).embedded_signatures[0].signer_info
        return {a["type"].native: a["values"].dump() for a in info["signed_attrs"]}
    a, b, c = attrs(plain[0]), attrs(ours[0]), attrs(ours[1])
    assert list(a) == list(b) == list(c) and "signing_certificate_v2" in a
    assert a["signing_certificate_v2"] == b["signing_certificate_v2"] \
        == c["signing_certificate_v2"]
    sig = PdfFileReader(BytesIO(ours[0])).embedded_signatures[0]
    ess = next(a["values"][0] for a in sig.signer_info["signed_attrs"]
               if a["type"].native == "signing_certificate_v2")["certs"][0]
    assert ess["cert_hash"].native == hashlib.sha256(sig.signer_cert.dump()).digest()


def test_info_list_and_credential_info(csc_env: Any) -> None:
    info = httpx.post(f"{csc_env.url}/csc/v2/info", json={}).json()
    assert "signatures/signHash" in info["methods"] and info["region"] == "VN"
    token = csc_login(csc_env)
    h = {"Authorization": f"Bearer {token}"}
    ids = httpx.post(f"{csc_env.url}/csc/v2/credentials/list", json={}, headers=h).json()
    assert ids["credentialIDs"] == [csc_env.logins["clinician"].key_id]
    r = httpx.post(f"{csc_env.url}/csc/v2/credentials/info", headers=h, json={
        "credentialID": ids["credentialIDs"][0], "certificates": "chain", "certInfo": True})
    body = r.json()
    assert body["SCAL"] == "2" and body["authMode"] == "explicit"
    assert len(body["cert"]["certificates"]) >= 2  # signer first, then its CA
    first = base64.b64decode(body["cert"]["certificates"][0])
    assert first == csc_env.services.keystore.certificate(ids["credentialIDs"][0]).dump()
    assert httpx.post(f"{csc_env.url}/csc/v2/credentials/list", json={}).status_code == 401
