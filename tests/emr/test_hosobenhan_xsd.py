"""The HoSoBenhAn export against its XSD (insurance/xsd/hosobenhan.xsd) and identifier
rules: a valid export passes, each kind of bad data gets a per-field vi/en error and
no file, and a byte changed after sealing is detected (hsba and xmlsec1)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy.orm import Session

from core.errors import InvalidInput
from emr import models as m
from emr.export import export_patient_record, record_errors
from emr.seed import DemoIds
from insurance.schema import XSD_DIR, load_schema
from signer.xml.sign import sign_enveloped
from signer.xml.verify import verify_xml

Seeded = tuple[Session, DemoIds]


def _patient(s: Session, ids: DemoIds) -> m.Patient:
    return s.get(m.Patient, ids.patient_ids[0])


def test_a_valid_export_passes_the_xsd(seeded_sqlite: Seeded) -> None:
    s, ids = seeded_sqlite
    for patient_id in ids.patient_ids:
        xml = export_patient_record(s, patient_id).xml
        assert load_schema("hosobenhan.xsd").validate(etree.fromstring(xml))
        assert record_errors(xml) == []
    root = etree.fromstring(export_patient_record(s, ids.patient_ids[0]).xml)
    # code lists of the export: EMR codes mapped to the export's own
    assert root.findtext("DOT_DIEU_TRI/DOT/LOAI_KCB") == "NOI_TRU"
    assert root.findtext("DOT_DIEU_TRI/DOT/TINH_TRANG_RA") == "RA_VIEN"
    assert [e.text for e in root.iterfind("DOT_DIEU_TRI/DOT/CHAN_DOAN/BENH/LOAI")] == [
        "CHINH", "KEM_THEO"]
    assert sorted({e.text for e in root.iterfind(".//CHI_TIET_CHI_PHI/MA_NHOM")}) == [
        "1", "13", "15", "4", "8"]


def test_the_xsd_says_what_it_was_written_from() -> None:
    text = (XSD_DIR / "hosobenhan.xsd").read_text(encoding="utf-8")
    assert "NOT the official schema" in text
    assert "UNCONFIRMED against the official CV 365 text" in text
    assert "QD 130/QD-BYT" in text


def _set(attr: str, value: Any, of: Callable[[Session, DemoIds], Any] = _patient):
    def change(s: Session, ids: DemoIds) -> None:
        setattr(of(s, ids), attr, value)
    return change


def _secondary_condition(s: Session, ids: DemoIds) -> m.Condition:
    return s.get(m.Condition, f"demo-{ids.tenant_id}-cond-d649")


def _charge(s: Session, ids: DemoIds) -> m.ChargeItem:
    return s.get(m.ChargeItem, f"demo-{ids.tenant_id}-ci-0")


def _encounter(s: Session, ids: DemoIds) -> m.Encounter:
    return s.get(m.Encounter, ids.encounter_ids[0])


def _discharge_before_admission(s: Session, ids: DemoIds) -> None:
    enc = _encounter(s, ids)
    enc.discharged_at = enc.admitted_at - timedelta(days=1)


BAD_DATA = [
    # missing mandatory elements
    pytest.param(_set("patient_code", None), "THONG_TIN_HANH_CHINH/MA_BN", "missing", None,
                 id="missing-patient-code"),
    pytest.param(_set("birth_date", None), "THONG_TIN_HANH_CHINH/NGAY_SINH", "missing", None,
                 id="missing-birth-date"),
    pytest.param(_set("dosage_text", "", lambda s, ids: s.get(
        m.MedicationRequest, f"demo-{ids.tenant_id}-mr-cefo")),
        "DOT_DIEU_TRI/DOT/THUOC/CHI_TIET_THUOC/LIEU_DUNG", "missing", None,
        id="missing-dosage"),
    # values outside a code list
    pytest.param(_set("role", "tertiary", _secondary_condition),
                 "DOT_DIEU_TRI/DOT/CHAN_DOAN/BENH[2]/LOAI", "code", None, id="diagnosis-kind"),
    pytest.param(_set("category", "blood", _charge),
                 "DOT_DIEU_TRI/DOT/CHI_PHI/CHI_TIET_CHI_PHI[1]/MA_NHOM", "code", None,
                 id="cost-group"),
    pytest.param(_set("discharge_disposition", "vanished", _encounter),
                 "DOT_DIEU_TRI/DOT/TINH_TRANG_RA", "code", None, id="discharge-status"),
    pytest.param(_set("encounter_class", "VR", _encounter),
                 "DOT_DIEU_TRI/DOT/LOAI_KCB", "code", None, id="visit-kind"),
    # bad identifiers (never quoted back in the message)
    pytest.param(_set("cccd", "07218700"), "THONG_TIN_HANH_CHINH/SO_CCCD", "format", "07218700",
                 id="cccd-length"),
    pytest.param(_set("cccd", "999187001234"), "THONG_TIN_HANH_CHINH/SO_CCCD", "invalid",
                 "999187001234", id="cccd-province"),
    pytest.param(_set("cccd", "072087001234"), "THONG_TIN_HANH_CHINH/SO_CCCD", "invalid",
                 "072087001234", id="cccd-sex"),
    pytest.param(_set("bhyt_card", "DN472721234567X"), "THONG_TIN_HANH_CHINH/MA_THE_BHYT",
                 "format", "DN472721234567X", id="bhyt-format"),
    pytest.param(_set("bhyt_card", "ZZ4727212345678"), "THONG_TIN_HANH_CHINH/MA_THE_BHYT",
                 "invalid", "ZZ4727212345678", id="bhyt-object-code"),
    pytest.param(_set("icd10", "appendix", _secondary_condition),
                 "DOT_DIEU_TRI/DOT/CHAN_DOAN/BENH[2]/MA_BENH", "format", "appendix", id="icd10"),
    # dates out of order
    pytest.param(_discharge_before_admission, "DOT_DIEU_TRI/DOT/NGAY_RA", "invalid", None,
                 id="discharge-before-admission"),
]


@pytest.mark.parametrize(("change", "field", "kind", "secret"), BAD_DATA)
def test_bad_data_gets_a_per_field_error_and_no_export(
        seeded_sqlite: Seeded, change: Callable[[Session, DemoIds], None], field: str,
        kind: str, secret: str | None) -> None:
    s, ids = seeded_sqlite
    change(s, ids)
    s.flush()
    with pytest.raises(InvalidInput) as err:
        export_patient_record(s, ids.patient_ids[0])
    s.rollback()
    assert err.value.code == "hosobenhan.invalid"
    by_field = {d["field"]: d for d in err.value.details}
    assert field in by_field, err.value.details
    detail = by_field[field]
    assert detail["kind"] == kind
    name = field.rsplit("/", 1)[-1].split("[")[0]
    assert name in detail["message_vi"] and name in detail["message_en"]
    assert detail["message_vi"] != detail["message_en"]
    if secret:
        assert secret not in detail["message_vi"] + detail["message_en"]
    # only the bad field is reported
    assert len(err.value.details) == 1, err.value.details


def _replace_text(xml: bytes, path: str, value: str) -> bytes:
    root = etree.fromstring(xml)
    root.find(path).text = value
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@pytest.mark.parametrize(("path", "value", "kind"), [
    ("THONG_TIN_HANH_CHINH/NGAY_SINH", "12/04/1987", "format"),
    ("THONG_TIN_HANH_CHINH/NGAY_SINH", "1987-04-12", "format"),
    ("THONG_TIN_HANH_CHINH/NGAY_SINH", "19870231", "format"),  # no 31 February
    ("DOT_DIEU_TRI/DOT/NGAY_VAO", "20261102", "format"),  # a date where a time is due
    ("DOT_DIEU_TRI/DOT/NGAY_VAO", "202611022460", "format"),
    ("THONG_TIN_CHUNG/NGAY_XUAT", "2026-11-27T10:00", "format"),
    ("THONG_TIN_HANH_CHINH/GIOI_TINH", "0", "code"),
    ("DOT_DIEU_TRI/DOT/TAI_LIEU/TEP/SHA256", "XYZ", "format"),
    ("DOT_DIEU_TRI/DOT/CHI_PHI/CHI_TIET_CHI_PHI/DON_GIA", "39.000 đ", "number"),
])
def test_wrong_formats_in_the_xml_are_reported_per_field(
        seeded_sqlite: Seeded, tmp_path: Path, path: str, value: str, kind: str) -> None:
    from archive.db import make_engine
    from archive.fs_store import FilesystemWormStore
    from archive.index import RecordsIndex
    from archive.ingest import Archiver
    from emr.export import archive_fetcher
    from tests.emr.test_export import _archive_consent

    s, ids = seeded_sqlite
    engine = make_engine(str(s.get_bind().url))
    archiver = Archiver(RecordsIndex(engine), FilesystemWormStore(tmp_path / "worm", warn=False))
    _archive_consent(s, ids, archiver)  # so the record has a TEP with a SHA256
    xml = export_patient_record(s, ids.patient_ids[0],
                                fetch_pdf=archive_fetcher(archiver.index, archiver.store)).xml
    engine.dispose()
    errors = record_errors(_replace_text(xml, path, value))
    assert [(re.sub(r"\[\d+\]", "", e["field"]), e["kind"]) for e in errors] == [(path, kind)]
    assert errors[0]["message_vi"] and errors[0]["message_en"]
    assert value not in errors[0]["message_vi"] + errors[0]["message_en"]


def _xmlsec_ok(xml: bytes, root_pem: bytes, tmp_path: Path) -> bool:
    assert shutil.which("xmlsec1"), "xmlsec1 (Debian package) is needed"
    (tmp_path / "root.pem").write_bytes(root_pem)
    (tmp_path / "doc.xml").write_bytes(xml)
    proc = subprocess.run(
        ["xmlsec1", "--verify", "--trusted-pem", str(tmp_path / "root.pem"), "--id-attr:Id",
         "http://uri.etsi.org/01903/v1.3.2#:SignedProperties", str(tmp_path / "doc.xml")],
        capture_output=True, text=True, timeout=30, check=False)
    return proc.returncode == 0


def test_a_changed_byte_after_sealing_is_detected(seeded_sqlite: Seeded, xml_pki: Any,
                                                  tmp_path: Path) -> None:
    s, ids = seeded_sqlite
    signed = sign_enveloped(export_patient_record(s, ids.patient_ids[0]).xml,
                            signer=xml_pki.signers["seal-rsa"], placement="")
    assert record_errors(signed) == []  # the sealed file still matches its XSD
    assert verify_xml(signed, trust_roots=[xml_pki.root_der], placement="").verdict == "VALID"
    assert _xmlsec_ok(signed, xml_pki.root_pem, tmp_path)
    # one byte in each kind of signed value: identifier, date, code, amount, diagnosis
    for before, after in [(b"<SO_CCCD>072187001234", b"<SO_CCCD>072187001235"),
                          (b"<NGAY_SINH>19870412", b"<NGAY_SINH>19870413"),
                          (b"<LOAI>KEM_THEO", b"<LOAI>KEM_THEU"),
                          (b"<DON_GIA>250000", b"<DON_GIA>350000"),
                          (b"<MA_BENH>K35.8", b"<MA_BENH>K35.9")]:
        assert signed.count(before) == 1, before
        tampered = signed.replace(before, after)
        assert verify_xml(tampered, trust_roots=[xml_pki.root_der],
                          placement="").verdict == "MODIFIED_AFTER_SIGNING", before
        assert not _xmlsec_ok(tampered, xml_pki.root_pem, tmp_path), before
    # and a byte anywhere in what the seal covers: the record, SignedInfo, the signature
    # value and the XAdES SignedProperties. (Unsigned parts such as the Signature's own Id,
    # KeyInfo's Id or UnsignedProperties are outside the seal by the XAdES design.)
    def span(start: bytes, end: bytes, inner: bool = False) -> range:
        a = signed.index(start)
        if inner:  # the text only, not the element's (unsigned) Id attribute
            return range(signed.index(b">", a) + 1, signed.index(end, a))
        return range(a, signed.index(end, a) + len(end))

    regions = [range(signed.index(b"<HoSoBenhAn"), signed.index(b"<ds:Signature")),
               span(b"<ds:SignedInfo", b"</ds:SignedInfo>"),
               span(b"<ds:SignatureValue", b"</ds:SignatureValue>", inner=True),
               span(b"<xades:SignedProperties", b"</xades:SignedProperties>")]
    checked = 0
    for region in regions:
        for pos in region[:: max(1, len(region) // 40)]:
            changed = bytearray(signed)
            changed[pos] = ord("7") if changed[pos] != ord("7") else ord("8")
            verdict = verify_xml(bytes(changed), trust_roots=[xml_pki.root_der],
                                 placement="").verdict
            assert verdict in ("MODIFIED_AFTER_SIGNING", "INVALID", "PARSE_ERROR"), (pos, verdict)
            checked += 1
    assert checked >= 150
