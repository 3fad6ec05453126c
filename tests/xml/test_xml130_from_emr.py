"""XML 130 tables built from the EMR model (the seeded demo hospital)."""

from __future__ import annotations

import pytest
from lxml import etree
from sqlalchemy.orm import Session

from core.errors import InvalidInput
from insurance.from_emr import claim_encounter_from_emr
from insurance.xml130 import build_tables

# The hospital's own administrative-unit list (name → code) is configuration; these
# entries stand for that list in the test.
ADMIN_CODES = {"Tây Ninh": "72", "Phường Tân Ninh": "25459", "Phường Long An": "25460"}


@pytest.fixture
def seeded(tmp_settings):
    from emr.seed import seed_demo
    from workflow.services import Services

    services = Services.from_settings(tmp_settings)
    with Session(services.engine) as s:
        ids = seed_demo(s, "70001")
        s.commit()
    yield services, ids
    services.close()


def test_inpatient_encounter_maps_to_valid_tables(seeded):
    services, ids = seeded
    with Session(services.engine) as s:
        enc = claim_encounter_from_emr(s, ids.encounter_ids[0], admin_codes=ADMIN_CODES)
    tables = build_tables(enc)  # raises on any XSD violation
    x1 = etree.fromstring(tables["XML1"])
    assert x1.findtext("MA_LOAI_KCB") == "03"
    assert x1.findtext("MA_BENH_CHINH") == "K35.8"
    assert x1.findtext("MATINH_CU_TRU") == "72"
    drugs = etree.fromstring(tables["XML2"]).findall(".//CHI_TIET_THUOC")
    assert [d.findtext("MA_THUOC") for d in drugs] == ["40.183"]
    assert etree.fromstring(tables["XML4"]).findall(".//CHI_TIET_CLS")
    total = float(x1.findtext("T_TONGCHI_BV"))
    assert total == pytest.approx(39000 + 7 * 250000 + 3500000 + 10 * 18000 + 46000)


def test_missing_administrative_codes_are_reported_per_field(seeded):
    services, ids = seeded
    with Session(services.engine) as s, pytest.raises(InvalidInput) as err:
        claim_encounter_from_emr(s, ids.encounter_ids[0], admin_codes={})
    assert {d["field"] for d in err.value.details} == {"XML1.MATINH_CU_TRU", "XML1.MAXA_CU_TRU"}


def test_missing_card_and_birth_date_are_reported_per_field(seeded):
    from emr import models as m

    services, ids = seeded
    with Session(services.engine) as s:
        patient = s.get(m.Patient, ids.patient_ids[0])
        patient.birth_date, patient.bhyt_card = None, None
        s.flush()
        with pytest.raises(InvalidInput) as err:
            claim_encounter_from_emr(s, ids.encounter_ids[0], admin_codes=ADMIN_CODES)
    assert {d["field"] for d in err.value.details} == {"XML1.MA_THE_BHYT", "XML1.NGAY_SINH"}


def test_hosobenhan_export_is_sealed_archived_and_verifies_with_xmlsec1(seeded, tmp_path):
    import subprocess

    from emr.export import record_errors
    from signer.xml.verify import verify_xml
    from workflow.xml_exports import export_record_signed

    services, ids = seeded
    out = export_record_signed(services, ids.patient_ids[0], actor_id="test:auditor")
    xml = out.exported.xml
    assert out.verdict == "VALID" and record_errors(xml) == []
    roots = [c.dump() for c in services.trust_roots]
    result = verify_xml(xml, trust_roots=roots, placement="")
    assert result.verdict == "VALID", result
    # archived like a PDF: WORM object, index row
    assert services.store.get(out.object_key) == xml
    assert [v.n for v in services.index.versions(out.document_id)] == [out.version]
    root_pem = tmp_path / "root.pem"
    from asn1crypto import pem

    root_pem.write_bytes(b"".join(pem.armor("CERTIFICATE", c.dump()) for c in services.trust_roots))
    written = out.write(tmp_path / "out")
    xml_path = next(p for p in written if p.name == "HoSoBenhAn.xml")
    proc = subprocess.run(
        ["xmlsec1", "--verify", "--trusted-pem", str(root_pem), "--id-attr:Id",
         "http://uri.etsi.org/01903/v1.3.2#:SignedProperties", str(xml_path)],
        capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr
    from api.cli import main

    assert main(["xml", "verify", str(xml_path), "--format", "hosobenhan",
                 "--trust", str(root_pem)]) == 0
    assert main(["xml", "verify", str(xml_path), "--trust", str(root_pem)]) == 0  # auto
    # the export is in the audit chain
    assert any(e.action == "export" for e in services.audit.entries())
    tampered = xml.replace(b"Nhung", b"Nhunq", 1)
    assert tampered != xml
    assert verify_xml(tampered, trust_roots=roots, placement="").verdict == "MODIFIED_AFTER_SIGNING"


def test_bad_hosobenhan_data_is_neither_signed_nor_archived(seeded, monkeypatch):
    from emr import models as m
    from workflow import xml_exports

    services, ids = seeded
    with Session(services.engine) as s:
        s.get(m.Patient, ids.patient_ids[0]).bhyt_card = "ZZ4727212345678"
        s.commit()
    signed = []
    monkeypatch.setattr(xml_exports, "seal_signer", lambda *a, **k: signed.append(a))
    exports_before = sum(e.action == "export" for e in services.audit.entries())
    with pytest.raises(InvalidInput) as err:
        xml_exports.export_record_signed(services, ids.patient_ids[0], actor_id="test:auditor")
    assert [d["field"] for d in err.value.details] == ["THONG_TIN_HANH_CHINH/MA_THE_BHYT"]
    assert signed == []  # the seal was never asked for
    assert services.index.versions(f"hosobenhan-{ids.patient_ids[0]}") == []
    assert sum(e.action == "export" for e in services.audit.entries()) == exports_before
