"""XML 130 claim: build → XSD → sign (endesive XAdES-BES) → verify (hsba and xmlsec1)."""

from __future__ import annotations

import base64
import dataclasses
from decimal import Decimal

import pytest
from lxml import etree

from core.errors import InvalidInput, SigningError
from insurance import xsdgen
from insurance.sample import sample_encounter
from insurance.xml130 import build_claim, build_tables, read_claim, schema_errors
from signer.xml.sign import sign_enveloped
from signer.xml.verify import verify_xml
from tests.xml.xmlsec import xmlsec_verify


def test_committed_xsds_match_the_field_tables():
    for name, text in xsdgen.generate().items():
        assert (xsdgen.XSD_DIR / name).read_text(encoding="utf-8") == text, name


def test_tables_validate_and_totals_add_up():
    tables = build_tables(sample_encounter())
    assert set(tables) == {"XML1", "XML2", "XML3", "XML4", "XML5"}
    for code, xml in tables.items():
        assert schema_errors(xml, f"{code.lower()}.xsd", code) == []
    x1 = etree.fromstring(tables["XML1"])
    x2 = etree.fromstring(tables["XML2"])
    x3 = etree.fromstring(tables["XML3"])
    drug_total = sum(float(e.text) for e in x2.iter("THANH_TIEN_BV"))
    service_total = sum(float(e.text) for e in x3.iter("THANH_TIEN_BV"))
    assert float(x1.findtext("T_THUOC")) == pytest.approx(drug_total)
    assert float(x1.findtext("T_TONGCHI_BV")) == pytest.approx(drug_total + service_total)
    # fund + patient co-payment + uncovered part = total, for the whole claim
    parts = sum(float(x1.findtext(k)) for k in ("T_BHTT", "T_BNCCT", "T_BNTT"))
    assert parts == pytest.approx(float(x1.findtext("T_TONGCHI_BV")))
    assert x1.findtext("HO_TEN") == "Trần Thị Bích Ngọc"  # UTF-8 Vietnamese kept exactly
    assert x1.findtext("NGAY_VAO") == "202611200815"


def _patient(**kw):
    return lambda e: dataclasses.replace(e, patient=dataclasses.replace(e.patient, **kw))


def _first(attr: str, **kw):
    """Change the first line of one of the encounter's tables (drugs, services, ...)."""
    def change(e):
        lines = getattr(e, attr)
        return dataclasses.replace(e, **{attr: (dataclasses.replace(lines[0], **kw),
                                                *lines[1:])})
    return change


@pytest.mark.parametrize(
    ("change", "field", "kind"),
    [
        # XML1 (summary): identifiers, code lists, sizes, dates
        (_patient(citizen_id="12345"), "XML1.SO_CCCD", None),
        (_patient(insurance_card="XX"), "XML1.MA_THE_BHYT", None),
        (lambda e: dataclasses.replace(e, main_icd10="appendix"), "XML1.MA_BENH_CHINH", None),
        (lambda e: dataclasses.replace(e, facility_code="7200155"), "XML1.MA_CSKCB", "length"),
        (lambda e: dataclasses.replace(e, department_code="K" * 60), "XML1.MA_KHOA", "length"),
        (_patient(sex=4), "XML1.GIOI_TINH", "code"),
        (lambda e: dataclasses.replace(e, treatment_result=9), "XML1.KET_QUA_DTRI", "code"),
        (lambda e: dataclasses.replace(e, discharge_type=0), "XML1.MA_LOAI_RV", "code"),
        (_patient(full_name=""), "XML1.HO_TEN", "missing"),
        (lambda e: dataclasses.replace(e, discharged_at=e.admitted_at.replace(year=2025)),
         "XML1.NGAY_RA", None),
        # XML2 (drugs)
        (_first("drugs", name=""), "XML2.TEN_THUOC", "missing"),
        (_first("drugs", group_code=99), "XML2.MA_NHOM", "code"),
        (_first("drugs", unit="x" * 60), "XML2.DON_VI_TINH", "length"),
        (_first("drugs", doctor_code=""), "XML2.MA_BAC_SI", "missing"),
        # XML3 (services and supplies)
        (_first("services", unit=""), "XML3.DON_VI_TINH", "missing"),
        (_first("services", group_code=0), "XML3.MA_NHOM", "code"),
        (_first("services", quantity=Decimal(12345678901), unit_price=Decimal("0.001")),
         "XML3.SO_LUONG", "number"),
        # XML4 (results)
        (_first("lab_results", value=""), "XML4.GIA_TRI", "missing"),
        (_first("lab_results", reading_doctor_code=""), "XML4.MA_BS_DOC_KQ", "missing"),
        (_first("lab_results", indicator_name="x" * 1100), "XML4.TEN_CHI_SO", "length"),
        # XML5 (clinical course)
        (_first("progress_notes", course=""), "XML5.DIEN_BIEN_LS", "missing"),
        (_first("progress_notes", performed_by="x" * 300), "XML5.NGUOI_THUC_HIEN", "length"),
    ],
)
def test_bad_data_gets_a_field_level_error_and_no_file(change, field, kind):
    with pytest.raises(InvalidInput) as err:
        build_claim(change(sample_encounter()))
    fields = [d["field"] for d in err.value.details]
    assert field in fields, err.value.details
    detail = next(d for d in err.value.details if d["field"] == field)
    assert detail["message_vi"] and detail["message_en"]
    assert detail["message_vi"] != detail["message_en"]
    if kind is not None:  # an XSD violation: its kind, the field named, the value not quoted
        assert detail["kind"] == kind
        name = field.split(".", 1)[1]
        assert name in detail["message_vi"] and name in detail["message_en"]
        assert "xxxxxxxxxx" not in detail["message_vi"] + detail["message_en"]
    assert len(set(fields)) == 1, err.value.details  # only the bad field is reported


@pytest.mark.parametrize("label", ["seal-rsa", "seal-ec"])
def test_signed_claim_verifies_with_hsba_and_xmlsec1(xml_pki, tmp_path, label):
    signed = sign_enveloped(build_claim(sample_encounter()), signer=xml_pki.signers[label])
    root = etree.fromstring(signed)
    sig = root.find("CHUKYDONVI/{http://www.w3.org/2000/09/xmldsig#}Signature")
    assert sig is not None, "the signature must sit in CHUKYDONVI"
    assert b"certum" not in signed.lower()
    # the wrapper still validates against its XSD once signed
    assert schema_errors(signed, "giamdinhhs.xsd", "GIAMDINHHS") == []
    result = verify_xml(signed, trust_roots=[xml_pki.root_der])
    assert result.verdict == "VALID", result
    assert "Con dấu" in result.signer_subject
    path = tmp_path / "claim.xml"
    path.write_bytes(signed)
    proc = xmlsec_verify(path, xml_pki.root_pem, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "OK" in proc.stdout + proc.stderr
    assert read_claim(signed)["XML1"].startswith(b"<?xml")


def test_untrusted_signer_is_indeterminate(xml_pki):
    signed = sign_enveloped(build_claim(sample_encounter()), signer=xml_pki.signers["seal-rsa"])
    assert verify_xml(signed, trust_roots=[]).verdict == "INDETERMINATE"


@pytest.mark.parametrize("table", ["XML1", "XML2", "XML3", "XML4", "XML5"])
def test_a_changed_byte_in_any_signed_table_is_detected(xml_pki, tmp_path, table):
    signed = sign_enveloped(build_claim(sample_encounter()), signer=xml_pki.signers["seal-rsa"])
    root = etree.fromstring(signed)
    for f in root.iter("FILEHOSO"):
        if f.findtext("LOAIHOSO") == table:
            content = bytearray(base64.b64decode(f.findtext("NOIDUNGFILE")))
            # change one byte of the table's content (a digit of a value, keeping it well-formed)
            pos = content.index(b"<STT>1</STT>") + 5
            content[pos] = ord("7")
            f.find("NOIDUNGFILE").text = base64.b64encode(bytes(content)).decode()
    tampered = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    assert tampered != signed
    assert verify_xml(tampered, trust_roots=[xml_pki.root_der]).verdict == "MODIFIED_AFTER_SIGNING"
    path = tmp_path / "tampered.xml"
    path.write_bytes(tampered)
    assert xmlsec_verify(path, xml_pki.root_pem, tmp_path).returncode != 0


@pytest.mark.parametrize("table", ["XML1", "XML2", "XML3", "XML4", "XML5"])
def test_a_changed_byte_of_the_signed_file_in_any_table_is_detected(xml_pki, tmp_path, table):
    """One byte of the file itself (a base64 character of the table) at its start, middle
    and end, replaced by another base64 character so the file stays well-formed."""
    signed = sign_enveloped(build_claim(sample_encounter()), signer=xml_pki.signers["seal-ec"])
    marker = f"<LOAIHOSO>{table}</LOAIHOSO><NOIDUNGFILE>".encode()
    start = signed.index(marker) + len(marker)
    end = signed.index(b"</NOIDUNGFILE>", start)
    for pos in (start, (start + end) // 2, end - 3):
        changed = bytearray(signed)
        changed[pos] = ord("A") if changed[pos] != ord("A") else ord("B")
        tampered = bytes(changed)
        assert verify_xml(tampered, trust_roots=[xml_pki.root_der]).verdict == \
            "MODIFIED_AFTER_SIGNING", (table, pos)
    path = tmp_path / "tampered.xml"
    path.write_bytes(tampered)
    assert xmlsec_verify(path, xml_pki.root_pem, tmp_path).returncode != 0


@pytest.mark.parametrize(("before", "after"), [
    (b"<MACSKCB>72001", b"<MACSKCB>72002"), (b"<NGAYLAP>20261124", b"<NGAYLAP>20261125"),
    (b"<LOAIHOSO>XML3", b"<LOAIHOSO>XML4"), (b"<SOLUONGHOSO>1", b"<SOLUONGHOSO>2"),
])
def test_a_changed_byte_in_the_wrapper_is_detected(xml_pki, before, after):
    signed = sign_enveloped(build_claim(sample_encounter()), signer=xml_pki.signers["seal-rsa"])
    assert signed.count(before) == 1
    tampered = signed.replace(before, after)
    assert verify_xml(tampered, trust_roots=[xml_pki.root_der]).verdict == "MODIFIED_AFTER_SIGNING"


def test_signature_wrapping_and_misplacement_are_refused(xml_pki):
    signed = sign_enveloped(build_claim(sample_encounter()), signer=xml_pki.signers["seal-rsa"])
    ds = "{http://www.w3.org/2000/09/xmldsig#}Signature"
    # 1. the signature moved out of CHUKYDONVI
    root = etree.fromstring(signed)
    sig = root.find(f"CHUKYDONVI/{ds}")
    root.find("CHUKYDONVI").remove(sig)
    root.append(sig)
    assert verify_xml(etree.tostring(root), trust_roots=[xml_pki.root_der]).verdict == "INVALID"
    # 2. a second (copied) signature
    root = etree.fromstring(signed)
    root.find("THONGTINDONVI").append(etree.fromstring(etree.tostring(root.find(f"CHUKYDONVI/{ds}"))))
    assert verify_xml(etree.tostring(root), trust_roots=[xml_pki.root_der]).verdict == "INVALID"
    # 3. a decoy element carrying the SignedProperties Id
    root = etree.fromstring(signed)
    sp = root.find(".//{http://uri.etsi.org/01903/v1.3.2#}SignedProperties")
    decoy = etree.SubElement(root.find("THONGTINDONVI"), "X")
    decoy.set("Id", sp.get("Id"))
    assert verify_xml(etree.tostring(root), trust_roots=[xml_pki.root_der]).verdict in (
        "INVALID", "MODIFIED_AFTER_SIGNING")


def test_hostile_and_unsigned_inputs(xml_pki):
    assert verify_xml(b"<a><b></a>").verdict == "PARSE_ERROR"
    bomb = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><l>&b;</l>')
    assert verify_xml(bomb).verdict in ("NO_SIGNATURE", "PARSE_ERROR")
    assert verify_xml(build_claim(sample_encounter())).verdict == "NO_SIGNATURE"


def test_weak_keys_are_refused_and_nothing_is_signed(xml_pki):
    unsigned = build_claim(sample_encounter())
    with pytest.raises(SigningError) as err:
        sign_enveloped(unsigned, signer=xml_pki.signers["weak-rsa"])
    assert "TT 15/2025" in err.value.message_vi


def test_already_signed_or_missing_slot_is_refused(xml_pki):
    signed = sign_enveloped(build_claim(sample_encounter()), signer=xml_pki.signers["seal-rsa"])
    with pytest.raises(SigningError):
        sign_enveloped(signed, signer=xml_pki.signers["seal-rsa"])
    with pytest.raises(InvalidInput):
        sign_enveloped(b"<GIAMDINHHS/>", signer=xml_pki.signers["seal-rsa"])


def test_cli_verify(xml_pki, tmp_path, capsys):
    from api.cli import main

    signed = sign_enveloped(build_claim(sample_encounter()), signer=xml_pki.signers["seal-ec"])
    (tmp_path / "c.xml").write_bytes(signed)
    (tmp_path / "root.pem").write_bytes(xml_pki.root_pem)
    rc = main(["xml", "verify", str(tmp_path / "c.xml"), "--trust", str(tmp_path / "root.pem"),
               "--json"])
    assert rc == 0
    assert '"verdict": "VALID"' in capsys.readouterr().out
    (tmp_path / "t.xml").write_bytes(signed.replace(b"<SOLUONGHOSO>1", b"<SOLUONGHOSO>2"))
    assert main(["xml", "verify", str(tmp_path / "t.xml"), "--lang", "en"]) == 1
    assert "changed after signing" in capsys.readouterr().out
    assert main(["xml", "verify", str(tmp_path / "missing.xml")]) == 2


def test_cli_verify_checks_the_signed_content_against_its_xsd(xml_pki, tmp_path, capsys):
    """A correctly signed file whose table breaks its XSD (signed by some other tool, since
    hsba refuses to build it) verifies as a signature but fails the content check."""
    from api.cli import main

    root = etree.fromstring(build_claim(sample_encounter()))
    for f in root.iter("FILEHOSO"):
        if f.findtext("LOAIHOSO") == "XML2":
            table = base64.b64decode(f.findtext("NOIDUNGFILE"))
            table = table.replace(b"<MA_NHOM>4</MA_NHOM>", b"<MA_NHOM>99</MA_NHOM>", 1)
            f.find("NOIDUNGFILE").text = base64.b64encode(table).decode()
    signed = sign_enveloped(etree.tostring(root, xml_declaration=True, encoding="UTF-8"),
                            signer=xml_pki.signers["seal-rsa"])
    (tmp_path / "c.xml").write_bytes(signed)
    (tmp_path / "root.pem").write_bytes(xml_pki.root_pem)
    rc = main(["xml", "verify", str(tmp_path / "c.xml"), "--trust", str(tmp_path / "root.pem"),
               "--lang", "en"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "VALID" in out and "XML2: field MA_NHOM has a value outside its code list" in out
