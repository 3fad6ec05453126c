"""The whole path, end to end, on the two profiles (issue 2):

render → doctor certifies → patient confirmation sealed with the hospital seal
→ further policy steps → B-LTA → archive (WORM) → index → verify; then the
independent checks (pyHanko AdES LTA offline, poppler ``pdfsig``, ``openssl
cms -verify`` per byte range), the archive refusing deletion and overwrite,
and the index rows, versions and audit events surviving a restart.

Profiles: ``embedded`` (SQLite, filesystem WORM, software keys, development
PKI and in-process TSA) and ``services`` (PostgreSQL, SeaweedFS S3 Object
Lock, SoftHSM2 PKCS#11 token, certomancer TSA/OCSP over HTTP).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms, pem

from core.errors import ArchiveError
from tests.signer.checks import (
    assert_ades_passed,
    byte_ranges,
    dss_certificates_pem,
    openssl_cms_verify,
    openssl_ts_verify,
    pdfsig,
)
from workflow.demo import run_demo
from workflow.services import Services

TOKEN_KEYS = {"bs.an": "doctor-an", "bs.binh": "doctor-binh-ec", "dd.cuc": "nurse-chi",
              "seal": "seal"}


@pytest.fixture(params=["embedded", pytest.param("services", marks=pytest.mark.services)])
def profile(request: pytest.FixtureRequest) -> tuple[str, Any, Any, dict[str, str] | None]:
    """(name, settings, trust root certificate, key ids on the token)."""
    if request.param == "embedded":
        settings = request.getfixturevalue("tmp_settings")
        return "embedded", settings, None, None
    settings = request.getfixturevalue("real_services_settings")
    pki = request.getfixturevalue("test_pki")
    labels = request.getfixturevalue("test_services").pki_labels
    return "services", settings, pki.cert(labels.root), TOKEN_KEYS


def test_end_to_end(profile: tuple[str, Any, Any, dict[str, str] | None], tmp_path: Path,
                    request: pytest.FixtureRequest) -> None:
    name, settings, root, key_ids = profile
    services = Services.from_settings(settings)
    try:
        result = run_demo(services, tmp_path / "out", key_ids=key_ids)
        if root is None:
            root = services.pki.trust_roots[0]
        object_key = result.object_key
        store = services.store
    finally:
        services.close()

    # --- hsba's own verification -------------------------------------------------
    report = result.verification
    assert result.verdict in ("VALID", "VALID_WITH_ALLOWED_CHANGES"), report
    regular = list(report["signatures"])
    doc_ts = list(report.get("document_timestamps") or ())
    sigs = regular + doc_ts
    assert [s["field_name"] for s in regular][:2] == ["doctor", "patient"]
    assert all(s["indication"] == "TOTAL_PASSED" for s in sigs), sigs
    assert regular[0]["docmdp"] == 2  # the doctor certified: form filling + signatures
    assert regular[1]["reason"] == "Người bệnh xác nhận"
    assert doc_ts and all(t["kind"] == "document_timestamp" for t in doc_ts)
    assert result.versions[-1]["reason"].startswith("B-LTA:"), result.versions

    # --- independent checks ----------------------------------------------------------
    pdf = result.pdf_path.read_bytes()
    assert_ades_passed(pdf, root, "B-LTA", len(regular))
    text = pdfsig(result.pdf_path)
    assert text.count("Signature Validation: Signature is Valid.") >= len(regular), text
    assert "Signature is Invalid" not in text, text
    cafile = tmp_path / "root.pem"
    cafile.write_bytes(pem.armor("CERTIFICATE", root.dump()))
    ranges = byte_ranges(pdf)
    assert len(ranges) == len(sigs)
    for data, der in ranges:
        if cms.ContentInfo.load(der)["content"]["encap_content_info"]["content_type"].native \
                == "tst_info":  # the document timestamp: an RFC 3161 token over the range
            openssl_ts_verify(der, data, cafile, tmp_path)
        else:
            # the CMS carries its signing certificate; the chain is in the DSS
            openssl_cms_verify(data, der, cafile, tmp_path, dss_certificates_pem(pdf))

    # --- archive: retention date, write-once, delete refused -------------------------
    assert result.retention_class == "INPATIENT_10Y"
    assert result.retain_until is not None and result.retain_until.endswith("-12-31")
    assert len(result.versions) == len(regular)
    assert store.get(object_key) == pdf
    with pytest.raises(ArchiveError):
        store.put(object_key, pdf)
    with pytest.raises(ArchiveError):
        store.delete(object_key)

    # --- everything survives a restart (a new Services on the same data) ---------------
    again = Services.from_settings(settings)
    try:
        info = again.index.get(result.document_id)
        assert info.status == "archived" and info.current_version == len(regular)
        versions = again.index.versions(result.document_id)
        assert [v.sha256 for v in versions] == [v["sha256"] for v in result.versions]
        assert again.store.get(versions[-1].object_key) == pdf
        actions = [e.action for e in again.audit.entries(limit=10_000)
                   if e.object_id == result.document_id]
        for needed in ("create", "sign", "seal", "archive", "export", "verify"):
            assert needed in actions, actions
        assert again.audit.verify().to_dict()["ok"] is True
    finally:
        again.close()

    if name == "services":  # last: a second PUT adds a newer S3 version of the key
        _s3_refuses_delete_and_overwrite(request.getfixturevalue("test_services"), object_key,
                                         pdf)


def _s3_refuses_delete_and_overwrite(ts: Any, key: str, pdf: bytes) -> None:
    """Through the S3 API itself: deleting the locked version is AccessDenied, and a
    second PUT of the key leaves the archived version untouched."""
    from minio.error import S3Error

    client = ts.minio()
    stat = client.stat_object(ts.s3_bucket, key)
    assert stat.version_id
    with pytest.raises(S3Error) as e:
        client.remove_object(ts.s3_bucket, key, version_id=stat.version_id)
    assert e.value.code == "AccessDenied"
    admin = ts.minio(admin=True)
    with pytest.raises(S3Error) as e:
        admin.remove_object(ts.s3_bucket, key, version_id=stat.version_id)
    assert e.value.code == "AccessDenied"
    import io

    client.put_object(ts.s3_bucket, key, io.BytesIO(b"forged"), 6)
    original = client.get_object(ts.s3_bucket, key, version_id=stat.version_id)
    try:
        assert original.read() == pdf
    finally:
        original.close()
        original.release_conn()
