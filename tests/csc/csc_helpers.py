"""Helpers shared by the CSC tests: sign PDFs with pyHanko's ``CSCSigner`` through
hsba's CSC service, and check the results (pyHanko AdES offline, ``pdfsig``)."""

from __future__ import annotations

import asyncio
import subprocess
from io import BytesIO
from pathlib import Path
from typing import Any

import aiohttp
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.ades.report import AdESStatus
from pyhanko.sign.validation import ades
from pyhanko.sign.validation.policy_decl import (
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.policy_decl import NO_REVOCATION, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager

from hsm.remote.csc import CscEndpoint, open_csc_signer


async def sign_with_csc(env: Any, token: str, pdfs: list[bytes], *, api_ver: str = "v1",
                        role: str = "clinician", prefer_pss: bool = False,
                        plain_pyhanko: bool = False) -> tuple[list[bytes], int]:
    """Sign every PDF with ONE signer whose batch is the whole list; returns the signed
    PDFs and the number of ``credentials/authorize`` calls made. ``plain_pyhanko``:
    pyHanko's ``CSCSigner`` class itself (else hsba's subclass that encodes the
    signing-certificate attribute once)."""
    login = env.logins[role]
    async with aiohttp.ClientSession() as http:
        signer = await open_csc_signer(
            CscEndpoint(env.url, login.key_id, token, api_ver), http, pin=login.signing_pin,
            otp=lambda: env.otp(role), batch_size=len(pdfs), prefer_pss=prefer_pss,
            plain_pyhanko=plain_pyhanko)

        async def one(pdf: bytes) -> bytes:
            out = await signers.async_sign_pdf(
                IncrementalPdfFileWriter(BytesIO(pdf)),
                signers.PdfSignatureMetadata(field_name="BacSi", md_algorithm="sha256"),
                signer=signer)
            return out.getvalue()
        results = await asyncio.gather(*(one(p) for p in pdfs))
        return list(results), signer.auth_manager.authorizations  # type: ignore[attr-defined]


def ades_basic(pdf: bytes, root: Any) -> list[str]:
    spec = SignatureValidationSpec(
        cert_validation_policy=CertValidationPolicySpec(
            trust_manager=SimpleTrustManager.build(trust_roots=[root]),
            revinfo_policy=CertRevTrustPolicy(NO_REVOCATION)),
        revinfo_gathering_policy=RevocationInfoGatheringSpec(
            online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY))

    async def run() -> list[str]:
        out = []
        for sig in PdfFileReader(BytesIO(pdf)).embedded_regular_signatures:
            r = await ades.ades_basic_validation(sig.signed_data, spec,
                                                 raw_digest=sig.compute_digest())
            out.append(r.ades_subindic.status.name)
        return out
    return asyncio.run(run())


def assert_valid(env: Any, pdf: bytes, tmp_path: Path, name: str) -> None:
    root = env.services.pki.trust_roots[0]
    assert ades_basic(pdf, root) == [AdESStatus.PASSED.name]
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True,
                          check=False).stdout
    assert "Signature Validation: Signature is Valid." in text, text
