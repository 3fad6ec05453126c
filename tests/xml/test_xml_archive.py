"""Round trip export → seal → archive → verify, on the embedded default and on the
real-services profile (PostgreSQL, S3 Object Lock on SeaweedFS, the seal on SoftHSM2)."""

from __future__ import annotations

import pytest

from insurance.sample import sample_encounter
from signer.xml.verify import verify_xml


def _round_trip(settings, seal_key_id=None):
    from workflow.services import Services
    from workflow.xml_exports import export_claim

    services = Services.from_settings(settings)
    try:
        out = export_claim(services, sample_encounter(), actor_id="test:cashier",
                           seal_key_id=seal_key_id)
        assert out.verdict == "VALID"
        stored = services.store.get(out.object_key)
        assert stored == out.xml
        roots = [c.dump() for c in services.trust_roots]
        check = verify_xml(stored, trust_roots=roots)
        assert check.verdict == "VALID"
        # a TSA is configured (the development one, or HSBA_TSA_URLS) and a revocation
        # source (development PKI in process, or the CA's OCSP/CRL): the seal is XAdES-LT
        assert check.level == "XAdES-LT" and check.timestamp_time, check
        assert b"EncapsulatedOCSPValue" in stored or b"EncapsulatedCRLValue" in stored
        # idempotent: the same content for the same document is not archived twice
        again = export_claim(services, sample_encounter(), actor_id="test:cashier",
                             seal_key_id=seal_key_id)
        assert again.object_key.endswith(".xml")
        versions = services.index.versions(out.document_id)
        assert len(versions) >= 1
        return services, out
    except BaseException:
        services.close()
        raise


def test_round_trip_on_the_embedded_default(tmp_settings):
    services, out = _round_trip(tmp_settings)
    try:
        from core.errors import ArchiveError

        with pytest.raises(ArchiveError):
            services.store.put(out.object_key, b"<x/>", retain_until=None)
        assert services.store.get(out.object_key) == out.xml
    finally:
        services.close()


@pytest.mark.services
def test_round_trip_on_real_services(real_services_settings, test_services):
    from minio.error import S3Error

    services, out = _round_trip(real_services_settings, seal_key_id="seal")
    try:
        client = test_services.minio()
        bucket = test_services.s3_bucket
        versions = [o for o in client.list_objects(bucket, prefix=out.object_key,
                                                   include_version=True)]
        assert versions
        with pytest.raises(S3Error) as err:
            client.remove_object(bucket, out.object_key, version_id=versions[0].version_id)
        assert err.value.code == "AccessDenied"
        assert services.store.get(out.object_key) == out.xml
    finally:
        services.close()


@pytest.mark.services
def test_hosobenhan_round_trip_on_real_services(real_services_settings, test_services):
    """HoSoBenhAn: export (XSD-checked) → seal on SoftHSM2 → archive in S3 Object Lock and
    PostgreSQL → verify what the archive returns."""
    from minio.error import S3Error
    from sqlalchemy.orm import Session

    from emr.export import record_errors
    from emr.seed import seed_demo
    from workflow.services import Services
    from workflow.xml_exports import export_record_signed

    services = Services.from_settings(real_services_settings)
    try:
        with Session(services.engine) as s:
            ids = seed_demo(s, "70998")  # a tenant of its own in the shared database
            s.commit()
        out = export_record_signed(services, ids.patient_ids[0], actor_id="test:auditor",
                                   seal_key_id="seal")
        stored = services.store.get(out.object_key)
        assert stored == out.exported.xml and record_errors(stored) == []
        roots = [c.dump() for c in services.trust_roots]
        check = verify_xml(stored, trust_roots=roots, placement="")
        assert check.verdict == "VALID" and check.level == "XAdES-LT", check
        assert "HSBA Test TSA" in check.timestamp_authority
        assert out.version in [v.n for v in services.index.versions(out.document_id)]
        client = test_services.minio()
        versions = list(client.list_objects(test_services.s3_bucket, prefix=out.object_key,
                                            include_version=True))
        with pytest.raises(S3Error) as err:
            client.remove_object(test_services.s3_bucket, out.object_key,
                                 version_id=versions[0].version_id)
        assert err.value.code == "AccessDenied"
    finally:
        services.close()


def test_cli_export_seals_and_archives(tmp_settings, tmp_path, capsys):
    """`hsba xml export`: XML 130 (sample) and HoSoBenhAn (seeded EMR), on the embedded
    default; what is written verifies and is what the archive holds."""
    from asn1crypto import pem
    from sqlalchemy.orm import Session

    from api.cli import main
    from emr.seed import seed_demo
    from workflow.services import Services

    assert main(["xml", "export", "--sample", "--unsigned", "--out",
                 str(tmp_path / "unsigned.xml")]) == 0
    assert verify_xml((tmp_path / "unsigned.xml").read_bytes()).verdict == "NO_SIGNATURE"
    assert main(["xml", "export", "--sample", "--out", str(tmp_path / "claim.xml")]) == 0
    assert main(["xml", "export", "--sample", "--level", "XAdES-BES", "--out",
                 str(tmp_path / "bes.xml")]) == 0
    assert main(["xml", "export", "--sample", "--level", "XAdES-T", "--out",
                 str(tmp_path / "t.xml")]) == 0
    services = Services.from_settings(tmp_settings)
    try:
        with Session(services.engine) as s:
            ids = seed_demo(s, tmp_settings.hospital_code)
            s.commit()
        roots = [c.dump() for c in services.trust_roots]
        claim = (tmp_path / "claim.xml").read_bytes()
        lt = verify_xml(claim, trust_roots=roots)
        assert (lt.verdict, lt.level) == ("VALID", "XAdES-LT"), lt
        t = verify_xml((tmp_path / "t.xml").read_bytes(), trust_roots=roots)
        assert (t.verdict, t.level) == ("VALID", "XAdES-T"), t
        bes = verify_xml((tmp_path / "bes.xml").read_bytes(), trust_roots=roots)
        assert (bes.verdict, bes.level, bes.timestamp_time) == ("VALID", "XAdES-BES", "")
        (tmp_path / "roots.pem").write_bytes(b"".join(
            pem.armor("CERTIFICATE", der) for der in roots))
        claim_version, bes_version, t_version = services.index.versions(
            "xml130-70001-2026-000123")
        assert services.store.get(claim_version.object_key) == claim
        assert services.store.get(bes_version.object_key) == (tmp_path / "bes.xml").read_bytes()
        assert services.store.get(t_version.object_key) == (tmp_path / "t.xml").read_bytes()
    finally:
        services.close()
    capsys.readouterr()
    assert main(["xml", "verify", str(tmp_path / "claim.xml"), str(tmp_path / "bes.xml"),
                 "--trust", str(tmp_path / "roots.pem"), "--lang", "en"]) == 0
    claim_out, bes_out = capsys.readouterr().out.split(str(tmp_path / "bes.xml"))
    assert "XAdES-LT | time-stamp " in claim_out and "XAdES-BES" in bes_out
    assert "time-stamp" not in bes_out
    assert main(["xml", "export", "--encounter", ids.encounter_ids[0], "--format",
                 "hosobenhan", "--out", str(tmp_path / "record")]) == 0
    assert "hosobenhan-" in capsys.readouterr().out
    record = (tmp_path / "record" / "HoSoBenhAn.xml").read_bytes()
    check = verify_xml(record, trust_roots=roots, placement="")
    assert check.verdict == "VALID" and check.level == "XAdES-LT", check
    assert (tmp_path / "record" / "HoSoBenhAn.json").is_file()


def test_bes_seal_only_when_asked(tmp_settings):
    """``level="XAdES-BES"``: no signature time-stamp even though a TSA is configured."""
    from workflow.services import Services
    from workflow.xml_exports import export_claim

    services = Services.from_settings(tmp_settings)
    try:
        out = export_claim(services, sample_encounter(), actor_id="test:cashier",
                           level="XAdES-BES")
        check = verify_xml(out.xml, trust_roots=[c.dump() for c in services.trust_roots])
        assert check.verdict == "VALID" and check.level == "XAdES-BES"
        assert b"SignatureTimeStamp" not in out.xml
    finally:
        services.close()
