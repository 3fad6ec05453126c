"""Independent checks of signed PDFs: pyHanko AdES (offline), poppler's pdfsig,
``openssl cms -verify`` over the byte range and ``openssl ts -verify``."""

from __future__ import annotations

import asyncio
import subprocess
from io import BytesIO
from pathlib import Path

from asn1crypto import cms
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESStatus
from pyhanko.sign.validation import ades
from pyhanko.sign.validation.policy_decl import (
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.policy_decl import (
    NO_REVOCATION,
    REQUIRE_REVINFO,
    CertRevTrustPolicy,
)
from pyhanko_certvalidator.registry import SimpleTrustManager


def _spec(root, require_revinfo: bool) -> SignatureValidationSpec:
    return SignatureValidationSpec(
        cert_validation_policy=CertValidationPolicySpec(
            trust_manager=SimpleTrustManager.build(trust_roots=[root]),
            revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO if require_revinfo
                                              else NO_REVOCATION),
        ),
        revinfo_gathering_policy=RevocationInfoGatheringSpec(
            online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY
        ),
    )


async def _ades(pdf: bytes, root, level: str) -> list[tuple[str, str]]:
    reader = PdfFileReader(BytesIO(pdf))
    results = []
    for sig in reader.embedded_regular_signatures:
        if level == "B-LTA":
            r = await ades.ades_lta_validation(
                sig, PdfSignatureValidationSpec(_spec(root, True))
            )
        elif level == "B-LT":
            spec = _spec(root, True)
            import dataclasses

            spec = dataclasses.replace(
                spec, local_knowledge=ades._dss_to_local_knowledge(reader=reader)
            )
            r = await ades.ades_with_time_validation(
                sig.signed_data, spec, raw_digest=sig.compute_digest()
            )
        elif level == "B-T":
            r = await ades.ades_with_time_validation(
                sig.signed_data, _spec(root, False), raw_digest=sig.compute_digest()
            )
        else:
            r = await ades.ades_basic_validation(
                sig.signed_data, _spec(root, False), raw_digest=sig.compute_digest()
            )
        results.append((r.ades_subindic.status.name, str(r.ades_subindic)))
    return results


def ades_results(pdf: bytes, root, level: str) -> list[tuple[str, str]]:
    """(indication, subindication) per signature, validated offline."""
    return asyncio.run(_ades(pdf, root, level))


def assert_ades_passed(pdf: bytes, root, level: str, count: int) -> None:
    results = ades_results(pdf, root, level)
    assert len(results) == count, results
    assert all(ind == AdESStatus.PASSED.name for ind, _ in results), results


def pdfsig(path: Path) -> str:
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, check=False)
    return out.stdout + out.stderr


def assert_pdfsig_valid(path: Path, count: int) -> None:
    text = pdfsig(path)
    assert text.count("Signature Validation: Signature is Valid.") == count, text


def byte_ranges(pdf: bytes) -> list[tuple[bytes, bytes]]:
    """(signed bytes, DER CMS) of every signature or document timestamp."""
    reader = PdfFileReader(BytesIO(pdf))
    out = []
    for sig in reader.embedded_signatures:
        br = sig.sig_object["/ByteRange"]
        data = b"".join(pdf[br[i]:br[i] + br[i + 1]] for i in range(0, len(br), 2))
        contents = sig.sig_object["/Contents"]
        der = cms.ContentInfo.load(bytes(contents)).dump()
        out.append((data, der))
    return out


def dss_certificates_pem(pdf: bytes) -> bytes:
    """The certificates of the document's DSS that are not self-signed, PEM (what a
    PAdES verifier builds paths from: a B-LT/B-LTA CMS carries only its signing
    certificate). A root never comes from the document: the verifier brings it."""
    from asn1crypto import pem
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    dss = DocumentSecurityStore.read_dss(PdfFileReader(BytesIO(pdf)))
    return b"".join(pem.armor("CERTIFICATE", c.dump()) for c in dss.load_certs()
                    if c.self_signed == "no")


def openssl_cms_verify(data: bytes, der: bytes, cafile: Path, work: Path,
                       untrusted_pem: bytes = b"") -> None:
    """``untrusted_pem``: certificates to build the path with, e.g.
    :func:`dss_certificates_pem`. ``openssl cms`` has no ``-untrusted``
    (``-certfile`` only finds the signer), so they join the ``-CAfile`` store;
    without ``-partial_chain`` OpenSSL still verifies the chain up to the
    self-signed root of ``cafile``."""
    (work / "data.bin").write_bytes(data)
    (work / "sig.der").write_bytes(der)
    if untrusted_pem:
        store = work / "cafile-and-path.pem"
        store.write_bytes(cafile.read_bytes() + untrusted_pem)
        cafile = store
    res = subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(work / "sig.der"),
         "-content", str(work / "data.bin"), "-CAfile", str(cafile), "-purpose", "any",
         "-out", "/dev/null"],
        capture_output=True, text=True, check=False,
    )
    assert res.returncode == 0 and "Verification successful" in res.stderr, res.stderr


def timestamp_tokens(der: bytes) -> list[bytes]:
    """Signature timestamp tokens in a CMS (or the CMS itself if it is a timestamp)."""
    ci = cms.ContentInfo.load(der)
    sd = ci["content"]
    if sd["encap_content_info"]["content_type"].native == "tst_info":
        return [der]
    tokens = []
    for si in sd["signer_infos"]:
        for attr in si["unsigned_attrs"] or []:
            if attr["type"].native == "signature_time_stamp_token":
                tokens.extend(v.dump() for v in attr["values"])
    return tokens


def openssl_ts_verify(token: bytes, imprinted: bytes, cafile: Path, work: Path) -> None:
    """``imprinted`` is the data whose digest the token stamps."""
    (work / "tok.der").write_bytes(token)
    (work / "imprinted.bin").write_bytes(imprinted)
    res = subprocess.run(
        ["openssl", "ts", "-verify", "-token_in", "-in", str(work / "tok.der"),
         "-data", str(work / "imprinted.bin"), "-CAfile", str(cafile)],
        capture_output=True, text=True, check=False,
    )
    assert res.returncode == 0 and "Verification: OK" in res.stdout, res.stdout + res.stderr


def signature_values(der: bytes) -> list[bytes]:
    """The raw signature values of a CMS (what a signature timestamp stamps)."""
    sd = cms.ContentInfo.load(der)["content"]
    return [si["signature"].native for si in sd["signer_infos"]]


def signature_algorithms(der: bytes) -> list[str]:
    sd = cms.ContentInfo.load(der)["content"]
    return [si["signature_algorithm"].signature_algo for si in sd["signer_infos"]]
