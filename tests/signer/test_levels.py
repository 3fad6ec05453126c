"""Every PAdES level, RSA (PKCS#1 v1.5 and PSS) and ECDSA, checked by independent verifiers."""

from __future__ import annotations

from pathlib import Path

import pytest

from signer.request import SignRequest
from signer.sign import sign_pdf
from tests.signer import checks

pytestmark = pytest.mark.services


def _request(level: str, *, certify: bool = True, pss: bool = False) -> SignRequest:
    return SignRequest(
        field_name="doctor", signer_name="Nguyễn Văn An", role="Bác sĩ điều trị",
        reason="Xác nhận nội dung", location="Khoa Ngoại", level=level,  # type: ignore[arg-type]
        certify=certify, use_pss=pss, policy_version="2026.1",
    )


@pytest.mark.parametrize("level", ["B-B", "B-T", "B-LT", "B-LTA"])
@pytest.mark.parametrize("label,pss", [("doctor-rsa", False), ("doctor-rsa", True),
                                       ("doctor-ec", False)])
def test_level_validates_everywhere(signer_pki, form_pdf, tmp_path: Path, level, label, pss):
    signed = sign_pdf(
        form_pdf, _request(level, pss=pss), signer=signer_pki.signer(label),
        timestampers=[signer_pki.timestamper()], revocation=signer_pki.revocation(),
    )
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed)
    checks.assert_ades_passed(signed, signer_pki.root, level, 1)
    _root_pem, cas_pem = signer_pki.write_trust(tmp_path)
    ranges = checks.byte_ranges(signed)
    assert len(ranges) == (2 if level == "B-LTA" else 1)
    data, der = ranges[0]
    algo = checks.signature_algorithms(der)[0]
    assert algo == ("rsassa_pss" if pss else "rsassa_pkcs1v15" if "rsa" in label else "ecdsa")
    checks.openssl_cms_verify(data, der, cas_pem, tmp_path)
    tokens = checks.timestamp_tokens(der)
    if level == "B-B":
        assert tokens == []
    else:
        assert len(tokens) == 1
        checks.openssl_ts_verify(tokens[0], checks.signature_values(der)[0], cas_pem, tmp_path)
    if level == "B-LTA":
        doc_data, doc_ts = ranges[1]
        checks.openssl_ts_verify(doc_ts, doc_data, cas_pem, tmp_path)
    # poppler validates signatures, not document timestamps ("Unimplemented Feature")
    checks.assert_pdfsig_valid(path, 1)
