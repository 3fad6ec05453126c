"""pyHanko's ``CSCSigner`` through hsba's CSC service with the practitioners' keys ON the
real SoftHSM2 token (``hsm.prehashed``: CKM_RSA_PKCS over a DigestInfo, CKM_RSA_PKCS_PSS,
raw CKM_ECDSA), over real HTTP; results pass pyHanko AdES and ``pdfsig``."""

from __future__ import annotations

import asyncio
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from csc_helpers import assert_valid, sign_with_csc
from pyhanko.pdf_utils.reader import PdfFileReader

pytestmark = pytest.mark.services


@pytest.mark.parametrize(("role", "pss", "mechanism"), [
    ("clinician", False, "sha256_rsa"),
    ("clinician", True, "rsassa_pss"),
    ("head_of_department", False, "sha256_ecdsa"),
])
def test_token_keys_sign_through_csc(hsm_csc_env: Any, one_page_pdf: bytes, tmp_path: Path,
                                     role: str, pss: bool, mechanism: str) -> None:
    env = hsm_csc_env
    key_id = env.logins[role].key_id
    assert key_id.startswith("t-csc-")
    before = env.csc.signer.usage(key_id)
    signed, authorizations = asyncio.run(sign_with_csc(
        env, env.token(role), [one_page_pdf] * 3, role=role, prefer_pss=pss))
    assert authorizations == 1 and env.csc.signer.usage(key_id) == before + 3
    for i, pdf in enumerate(signed):
        sig = PdfFileReader(BytesIO(pdf)).embedded_signatures[0]
        assert sig.signer_cert.dump() == env.services.keystore.certificate(key_id).dump()
        algo = sig.signer_info["signature_algorithm"]["algorithm"].native
        assert algo == mechanism or (mechanism == "sha256_rsa" and algo == "rsassa_pkcs1v15")
        assert_valid(env, pdf, tmp_path, f"{role}-{pss}-{i}")
