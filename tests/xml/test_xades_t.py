"""XAdES-T: the signature time-stamp of the XML seal, from the real HTTP test TSA
(certomancer animate), checked by hsba, by xmlsec1 (the XML-DSig part) and by
``openssl ts -verify`` (the token over the canonical SignatureValue)."""

from __future__ import annotations

import base64
import hashlib
import socket
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import cms
from lxml import etree

from core.errors import SigningError, UnavailableError
from insurance.sample import sample_encounter
from insurance.xml130 import build_claim, schema_errors
from signer.timestamps import http_timestampers
from signer.xml.sign import BES, T, sign_enveloped
from signer.xml.timestamp import NS, UNSIGNED_PATH
from signer.xml.verify import verify_xml
from tests.xml.xmlsec import xmlsec_verify

pytestmark = pytest.mark.services

STAMP = UNSIGNED_PATH + "/xades:SignatureTimeStamp"


def _dead_tsa_url() -> str:
    """A local port nobody listens on: the connection is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/tsa"


@pytest.fixture(scope="module")
def tsa(test_services):
    return http_timestampers([test_services.tsa_url], timeout_s=10)


@pytest.fixture(scope="module")
def roots(xml_pki, test_pki) -> list[bytes]:
    """The seal's CA (xml_pki) and the test PKI root that issued the TSA's certificate."""
    return [xml_pki.root_der, test_pki.root.dump()]


@pytest.fixture(scope="module")
def stamped(xml_pki, tsa) -> bytes:
    return sign_enveloped(build_claim(sample_encounter()), signer=xml_pki.signers["seal-rsa"],
                          timestampers=tsa)


def _signature(xml: bytes):
    root = etree.fromstring(xml)
    return root, root.find(".//ds:Signature", NS)


def _token(xml: bytes) -> bytes:
    _, sig = _signature(xml)
    return base64.b64decode(sig.findtext(STAMP + "/xades:EncapsulatedTimeStamp", namespaces=NS))


def _with_token(xml: bytes, token: bytes) -> bytes:
    root, sig = _signature(xml)
    sig.find(STAMP + "/xades:EncapsulatedTimeStamp", NS).text = base64.b64encode(token).decode()
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def test_sealed_claim_is_xades_t_and_verifies_with_the_time(stamped, roots, xml_pki, tmp_path):
    before = datetime.now(UTC)
    result = verify_xml(stamped, trust_roots=roots)
    assert result.verdict == "VALID", result
    assert result.level == "XAdES-T"
    assert "HSBA Test TSA" in result.timestamp_authority
    at = datetime.fromisoformat(result.timestamp_time)
    assert before - timedelta(hours=1) < at <= before  # stamped by this run, not later
    # the wrapper still validates against its XSD with the unsigned properties in it
    assert schema_errors(stamped, "giamdinhhs.xsd", "GIAMDINHHS") == []
    # xmlsec1: the XML-DSig part is untouched by the time-stamp
    (tmp_path / "claim.xml").write_bytes(stamped)
    proc = xmlsec_verify(tmp_path / "claim.xml", xml_pki.root_pem, tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_token_stamps_the_canonical_signature_value_per_openssl(stamped, test_pki, tmp_path):
    """The shape EN 319 132-1 asks for, and the token checked by OpenSSL over the
    exclusive-c14n ``ds:SignatureValue`` computed here with lxml."""
    _, sig = _signature(stamped)
    (stamp,) = sig.xpath(STAMP, namespaces=NS)
    method = stamp.find("ds:CanonicalizationMethod", NS).get("Algorithm")
    assert method == "http://www.w3.org/2001/10/xml-exc-c14n#"
    value = etree.tostring(sig.find("ds:SignatureValue", NS), method="c14n", exclusive=True)
    token = _token(stamped)
    tst = cms.ContentInfo.load(token)["content"]["encap_content_info"]["content"].parsed
    assert tst["message_imprint"]["hashed_message"].native == hashlib.sha256(value).digest()
    (tmp_path / "value.c14n").write_bytes(value)
    (tmp_path / "token.der").write_bytes(token)
    test_pki.write_pem(test_pki.labels.root, tmp_path / "tsa-root.pem")
    proc = subprocess.run(
        ["openssl", "ts", "-verify", "-token_in", "-in", str(tmp_path / "token.der"),
         "-data", str(tmp_path / "value.c14n"), "-CAfile", str(tmp_path / "tsa-root.pem")],
        capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 0 and "OK" in proc.stdout, proc.stdout + proc.stderr


def test_token_over_another_signature_value_is_invalid(stamped, xml_pki, tsa, roots):
    other = sign_enveloped(build_claim(sample_encounter()), signer=xml_pki.signers["seal-ec"],
                           timestampers=tsa)
    assert verify_xml(other, trust_roots=roots).verdict == "VALID"
    swapped = _with_token(stamped, _token(other))
    result = verify_xml(swapped, trust_roots=roots)
    assert result.verdict == "INVALID"
    assert "does not stamp this SignatureValue" in result.message_en
    assert "không khớp giá trị chữ ký" in result.message_vi


def test_backdated_or_damaged_token_is_invalid(stamped, roots):
    token = _token(stamped)
    tst = cms.ContentInfo.load(token)["content"]["encap_content_info"]["content"].parsed
    gen_time = tst["gen_time"].contents  # e.g. b"20261128040115.151474Z"
    assert token.count(gen_time) == 1
    earlier = gen_time.replace(gen_time[:4], str(int(gen_time[:4]) - 1).encode(), 1)
    backdated = verify_xml(_with_token(stamped, token.replace(gen_time, earlier)),
                           trust_roots=roots)
    assert backdated.verdict == "INVALID"
    assert "TSA signature fails" in backdated.message_en
    damaged = bytearray(token)
    damaged[-5] ^= 0x01  # inside the TSA's signature value, the last field of the token
    result = verify_xml(_with_token(stamped, bytes(damaged)), trust_roots=roots)
    assert result.verdict == "INVALID"
    assert "TSA signature fails" in result.message_en
    garbage = verify_xml(_with_token(stamped, b"not a token"), trust_roots=roots)
    assert garbage.verdict == "INVALID"


def test_tampered_signature_value_is_invalid(stamped, roots):
    root, sig = _signature(stamped)
    sv = sig.find("ds:SignatureValue", NS)
    text = sv.text.strip()
    sv.text = ("B" if text[0] != "B" else "C") + text[1:]
    result = verify_xml(etree.tostring(root), trust_roots=roots)
    assert result.verdict == "INVALID"
    assert "does not verify with the certificate" in result.message_en


def test_time_stamp_out_of_place_is_refused(stamped, roots):
    root, sig = _signature(stamped)
    (stamp,) = sig.xpath(STAMP, namespaces=NS)
    sig.find("ds:KeyInfo", NS).append(stamp)
    result = verify_xml(etree.tostring(root), trust_roots=roots)
    assert result.verdict == "INVALID" and "SignatureTimeStamp" in result.message_en


def test_tsa_without_a_path_to_a_trust_anchor_is_indeterminate(stamped, xml_pki):
    result = verify_xml(stamped, trust_roots=[xml_pki.root_der])
    assert result.verdict == "INDETERMINATE"
    assert "from the TSA to a trust anchor" in result.message_en
    assert result.level == "XAdES-T" and result.timestamp_time


def test_tsa_down_refuses_and_produces_nothing(xml_pki):
    unsigned = build_claim(sample_encounter())
    with pytest.raises(UnavailableError) as err:
        sign_enveloped(unsigned, signer=xml_pki.signers["seal-rsa"],
                       timestampers=http_timestampers([_dead_tsa_url()], timeout_s=5))
    assert err.value.code == "xml.tsa_unavailable"
    assert "TSA" in err.value.message_vi and "was not signed" in err.value.message_en
    assert err.value.details  # which TSA failed and how
    with pytest.raises(SigningError) as err2:
        sign_enveloped(unsigned, signer=xml_pki.signers["seal-rsa"], level=T)
    assert err2.value.code == "xml.timestamp_required"


def test_failover_to_the_next_tsa(xml_pki, test_services, roots):
    signed = sign_enveloped(
        build_claim(sample_encounter()), signer=xml_pki.signers["seal-ec"],
        timestampers=http_timestampers([_dead_tsa_url(), test_services.tsa_url], timeout_s=5))
    result = verify_xml(signed, trust_roots=roots)
    assert result.verdict == "VALID" and result.level == "XAdES-T"


def test_bes_only_when_asked(xml_pki, tsa, roots):
    signed = sign_enveloped(build_claim(sample_encounter()), signer=xml_pki.signers["seal-rsa"],
                            timestampers=tsa, level=BES)
    assert b"SignatureTimeStamp" not in signed
    result = verify_xml(signed, trust_roots=roots)
    assert result.verdict == "VALID" and result.level == "XAdES-BES"
    assert result.timestamp_time == ""


def test_export_refuses_when_the_configured_tsa_is_down(tmp_settings, monkeypatch):
    """Workflow: with a TSA configured, the seal is XAdES-T; when it does not answer,
    nothing is archived."""
    import json

    from core.settings import get_settings, reset_settings_cache
    from workflow.services import Services
    from workflow.xml_exports import export_claim

    monkeypatch.setenv("HSBA_TSA_URLS", json.dumps([_dead_tsa_url()]))
    monkeypatch.setenv("HSBA_TSA_TIMEOUT_S", "5")
    reset_settings_cache()
    services = Services.from_settings(get_settings())
    try:
        with pytest.raises(UnavailableError):
            export_claim(services, sample_encounter(), actor_id="test:cashier")
        assert services.index.versions("xml130-70001-2026-000123") == []
    finally:
        services.close()
