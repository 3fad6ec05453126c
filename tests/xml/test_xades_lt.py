"""XAdES-LT: the seal's and the TSA's certificate paths and their OCSP responses/CRLs
embedded in the XML signature, gathered from the real HTTP test PKI (certomancer
animate: OCSP, CRLs, TSA) and checked offline from the file alone, by hsba; xmlsec1
checks the XML-DSig part."""

from __future__ import annotations

import base64
import socket

import pytest
from asn1crypto import ocsp
from lxml import etree

from core.errors import SigningError
from insurance.sample import sample_encounter
from insurance.xml130 import build_claim, schema_errors
from signer.keys import InMemoryKeySigner
from signer.revocation import OnlineRevocationSource
from signer.timestamps import http_timestampers
from signer.xml.ltv import LT, ValidationValues, add_validation_values
from signer.xml.sign import T, sign_enveloped
from signer.xml.timestamp import NS, UNSIGNED_PATH, XADES
from signer.xml.verify import verify_xml
from tests.pki.testpki import LABELS
from tests.xml.xmlsec import xmlsec_verify

pytestmark = pytest.mark.services

USP = UNSIGNED_PATH


def _signer(test_pki, label: str) -> InMemoryKeySigner:
    return InMemoryKeySigner.from_chain(test_pki.private_key(label),
                                        [test_pki.cert(label), *test_pki.chain(label)])


@pytest.fixture(scope="module")
def tsa(test_services):
    return http_timestampers([test_services.tsa_url], timeout_s=10)


@pytest.fixture(scope="module")
def revocation(test_pki) -> OnlineRevocationSource:
    """OCSP and CRLs over HTTP from the test PKI, at the URLs the certificates name."""
    return OnlineRevocationSource([test_pki.root], other_certs=[test_pki.interm], timeout_s=5)


@pytest.fixture(scope="module")
def roots(test_pki) -> list[bytes]:
    return [test_pki.root.dump()]


@pytest.fixture(scope="module")
def lt_signed(test_pki, tsa, revocation) -> bytes:
    return sign_enveloped(build_claim(sample_encounter()),
                          signer=_signer(test_pki, LABELS.hospital_seal),
                          timestampers=tsa, revocation=revocation)


@pytest.fixture(scope="module")
def revoked_lt(test_pki, tsa) -> bytes:
    """A seal by the revoked doctor whose embedded OCSP response says so. hsba refuses to
    make one (see test_revoked_seal_is_refused_at_signing): this is what another tool, or
    hsba before the revocation was published, could have written. The T signature comes
    from hsba, the values from a soft-fail context fetching from the test PKI."""
    from pyhanko_certvalidator import CertificateValidator, ValidationContext
    from pyhanko_certvalidator.errors import RevokedError

    from signer.xml._sync import run_sync

    revoked = test_pki.cert(LABELS.doctor_revoked)
    signed = sign_enveloped(build_claim(sample_encounter()),
                            signer=_signer(test_pki, LABELS.doctor_revoked),
                            timestampers=tsa, level=T)
    ctx = ValidationContext(trust_roots=[test_pki.root], other_certs=[test_pki.interm],
                            allow_fetching=True, revocation_mode="soft-fail")
    with pytest.raises(RevokedError):
        run_sync(lambda: CertificateValidator(revoked, validation_context=ctx)
                 .async_validate_usage(set()))
    tsa_cert = test_pki.cert(LABELS.tsa)
    run_sync(lambda: CertificateValidator(tsa_cert, validation_context=ctx)
             .async_validate_usage(set(), extended_key_usage={"time_stamping"}))
    assert ctx.ocsps and ctx.crls
    root, sig = _signature(signed)
    add_validation_values(sig, ValidationValues(
        (revoked, test_pki.interm, test_pki.root, tsa_cert, test_pki.cert(LABELS.ocsp_responder)),
        tuple(ctx.ocsps), tuple(ctx.crls)))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _signature(xml: bytes):
    root = etree.fromstring(xml)
    return root, root.find(".//ds:Signature", NS)


def _values(xml: bytes, path: str) -> list[bytes]:
    _, sig = _signature(xml)
    return [base64.b64decode(el.text) for el in sig.xpath(f"{USP}/{path}", namespaces=NS)]


def _serialize(root) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def test_lt_seal_carries_each_path_certificate_once_and_verifies_offline(
        lt_signed, roots, test_pki, tmp_path):
    result = verify_xml(lt_signed, trust_roots=roots)  # offline is the default
    assert result.verdict == "VALID", result
    assert result.level == LT and result.timestamp_time and result.trusted
    certs = _values(lt_signed, "xades:CertificateValues/xades:EncapsulatedX509Certificate")
    assert len(certs) == len(set(certs))  # each once
    expected = {test_pki.cert(label).dump() for label in (
        LABELS.hospital_seal, LABELS.interm, LABELS.root, LABELS.tsa, LABELS.ocsp_responder)}
    assert set(certs) == expected
    # the seal's OCSP response (good) and the root's CRL (intermediate CA, TSA)
    (ocsp_der,) = _values(lt_signed, "xades:RevocationValues/xades:OCSPValues/"
                                     "xades:EncapsulatedOCSPValue")
    single = ocsp.OCSPResponse.load(ocsp_der).basic_ocsp_response["tbs_response_data"][
        "responses"][0]
    assert single["cert_id"]["serial_number"].native == 2008
    assert single["cert_status"].name == "good"
    crls = _values(lt_signed, "xades:RevocationValues/xades:CRLValues/xades:EncapsulatedCRLValue")
    assert crls and len(crls) == len(set(crls))
    # order in UnsignedSignatureProperties: time-stamp, then the values
    _, sig = _signature(lt_signed)
    (usp,) = sig.xpath(USP, namespaces=NS)
    assert [etree.QName(c).localname for c in usp] == [
        "SignatureTimeStamp", "CertificateValues", "RevocationValues"]
    assert schema_errors(lt_signed, "giamdinhhs.xsd", "GIAMDINHHS") == []
    # xmlsec1: the XML-DSig part is untouched by the unsigned properties
    (tmp_path / "claim.xml").write_bytes(lt_signed)
    proc = xmlsec_verify(tmp_path / "claim.xml", test_pki.pem(LABELS.root), tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_lt_seal_validates_with_the_network_gone(lt_signed, roots, tsa, test_pki, monkeypatch):
    """Every outgoing connection of this process refused (the PKI's OCSP, CRL and
    certificate URLs unreachable): the LT file still validates from its own values. The
    control, a T seal checked online, shows the block is real: it cannot get revocation
    data. (A monkeypatched ``socket.connect`` stands in for the PKI being gone; stopping
    the shared test PKI server would break the other sessions using it.)"""
    t_signed = sign_enveloped(build_claim(sample_encounter()),
                              signer=_signer(test_pki, LABELS.hospital_seal),
                              timestampers=tsa, level=T)
    assert verify_xml(t_signed, trust_roots=roots, offline=False).verdict == "VALID"
    calls: list[object] = []

    def refuse(self, address):
        calls.append(address)
        raise ConnectionRefusedError("network gone (test)")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    result = verify_xml(lt_signed, trust_roots=roots)
    assert (result.verdict, result.level) == ("VALID", LT), result
    assert calls == []  # not even tried
    control = verify_xml(t_signed, trust_roots=roots, offline=False)
    assert control.verdict == "INDETERMINATE" and calls


def test_default_level_is_lt_with_a_revocation_source_t_and_bes_when_asked(
        test_pki, tsa, revocation, roots):
    unsigned = build_claim(sample_encounter())
    seal = _signer(test_pki, LABELS.hospital_seal)
    as_t = sign_enveloped(unsigned, signer=seal, timestampers=tsa, revocation=revocation,
                          level=T)
    assert b"CertificateValues" not in as_t and b"SignatureTimeStamp" in as_t
    assert verify_xml(as_t, trust_roots=roots).level == T
    with pytest.raises(SigningError) as err:
        sign_enveloped(unsigned, signer=seal, timestampers=tsa, level=LT)
    assert err.value.code == "xml.revocation_required"
    assert "XAdES-LT" in err.value.message_vi
    with pytest.raises(SigningError) as err2:
        sign_enveloped(unsigned, signer=seal, revocation=revocation, level=LT)
    assert err2.value.code == "xml.timestamp_required"


def test_revoked_seal_is_refused_at_signing(test_pki, tsa, revocation):
    calls: list[object] = []
    seal = _signer(test_pki, LABELS.doctor_revoked)
    original = seal.async_sign_raw

    async def counting(*args, **kwargs):
        calls.append(args)
        return await original(*args, **kwargs)

    seal.async_sign_raw = counting  # type: ignore[method-assign]
    with pytest.raises(SigningError) as err:
        sign_enveloped(build_claim(sample_encounter()), signer=seal, timestampers=tsa,
                       revocation=revocation)
    assert err.value.code == "sign.certificate_revoked"
    assert "thu hồi" in err.value.message_vi and "revoked" in err.value.message_en
    assert calls == []  # the key was never used


def test_embedded_revoked_status_is_invalid(revoked_lt, roots):
    result = verify_xml(revoked_lt, trust_roots=roots)
    assert result.verdict == "INVALID", result
    assert result.level == LT
    assert "revoked before the signing time" in result.message_en
    assert "bị thu hồi" in result.message_vi
    assert "2026-01-15" in result.message_en  # when, from the embedded OCSP response


def test_tampered_or_swapped_values_never_make_a_seal_valid(revoked_lt, lt_signed, roots):
    ocsp_path = "xades:RevocationValues/xades:OCSPValues/xades:EncapsulatedOCSPValue"
    # the revoked seal with the good OCSP response of another certificate instead
    (good,) = _values(lt_signed, ocsp_path)
    root, sig = _signature(revoked_lt)
    (el,) = sig.xpath(f"{USP}/{ocsp_path}", namespaces=NS)
    el.text = base64.b64encode(good).decode()
    swapped = verify_xml(_serialize(root), trust_roots=roots)
    assert swapped.verdict == "INDETERMINATE" and not swapped.trusted, swapped
    # the revoked seal with its OCSP response dropped
    el.getparent().getparent().remove(el.getparent())
    dropped = verify_xml(_serialize(root), trust_roots=roots)
    assert dropped.verdict == "INDETERMINATE" and "no revocation information" in dropped.message_en
    # a good LT seal whose OCSP response was altered (one bit of the responder's signature)
    damaged = bytearray(good)
    damaged[-5] ^= 0x01
    root, sig = _signature(lt_signed)
    (el,) = sig.xpath(f"{USP}/{ocsp_path}", namespaces=NS)
    el.text = base64.b64encode(bytes(damaged)).decode()
    altered = verify_xml(_serialize(root), trust_roots=roots)
    assert altered.verdict == "INDETERMINATE" and not altered.trusted, altered
    # a good LT seal with a changed SignatureValue stays invalid
    root, sig = _signature(lt_signed)
    sv = sig.find("ds:SignatureValue", NS)
    text = sv.text.strip()
    sv.text = ("B" if text[0] != "B" else "C") + text[1:]
    assert verify_xml(_serialize(root), trust_roots=roots).verdict == "INVALID"


def test_embedded_certificates_are_not_trust_anchors(lt_signed, xml_pki):
    """The file carries the test root itself: trusting only another root, it is not VALID."""
    result = verify_xml(lt_signed, trust_roots=[xml_pki.root_der])
    assert result.verdict == "INDETERMINATE" and not result.trusted


def test_values_out_of_place_or_foreign_are_refused(lt_signed, roots):
    root, sig = _signature(lt_signed)
    (values,) = sig.xpath(f"{USP}/xades:CertificateValues", namespaces=NS)
    sig.find("ds:KeyInfo", NS).append(values)
    moved = verify_xml(_serialize(root), trust_roots=roots)
    assert moved.verdict == "INVALID" and "CertificateValues" in moved.message_en
    root, sig = _signature(lt_signed)
    (rev,) = sig.xpath(f"{USP}/xades:RevocationValues", namespaces=NS)
    etree.SubElement(rev, f"{{{XADES}}}OtherValues")
    other = verify_xml(_serialize(root), trust_roots=roots)
    assert other.verdict == "INVALID" and "RevocationValues" in other.message_en
    root, sig = _signature(lt_signed)
    (cert,) = sig.xpath(f"{USP}/xades:CertificateValues/xades:EncapsulatedX509Certificate[1]",
                        namespaces=NS)
    cert.text = base64.b64encode(b"not a certificate").decode()
    garbage = verify_xml(_serialize(root), trust_roots=roots)
    assert garbage.verdict == "INVALID" and "EncapsulatedX509Certificate" in garbage.message_en


def test_tsa_outside_the_revocation_sources_trust_is_refused(xml_pki, tsa):
    """The seal's own CA is trusted (its certificate names no OCSP/CRL, hard-fail accepts
    it) but the TSA's root is not: XAdES-LT is refused, nothing returned."""
    from asn1crypto import x509 as asn1_x509

    only_seal_ca = OnlineRevocationSource([asn1_x509.Certificate.load(xml_pki.root_der)],
                                          timeout_s=5, revocation_mode="hard-fail")
    with pytest.raises(SigningError) as err:
        sign_enveloped(build_claim(sample_encounter()), signer=xml_pki.signers["seal-rsa"],
                       timestampers=tsa, revocation=only_seal_ca)
    assert err.value.code == "xml.tsa_certificate_untrusted"
    assert "TSA" in err.value.message_vi and "TSA" in err.value.message_en


def test_seal_whose_certificate_has_expired_validates_from_its_values(test_pki, roots):
    """Years later: a seal made in June 2023 by a certificate that expired in January
    2024 still validates today, offline, from its own values; judged today (``at``) it
    does not. The 2023 TSA, OCSP responder and CRL are the test PKI's own keys and
    certomancer/pyHanko responders run in process at that date (the HTTP server only
    answers for now); the XML-DSig part and the time-stamp are made by hsba. The
    claimed SigningTime (today) is not compared with the time-stamp (a known limit)."""
    from datetime import UTC, datetime

    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
    from pyhanko_certvalidator.authority import AuthorityWithCert
    from pyhanko_certvalidator.fetchers.common_utils import format_ocsp_request

    then = datetime(2023, 6, 1, 8, 0, tzinfo=UTC)
    label = LABELS.doctor_expired
    cert = test_pki.cert(label)
    assert cert.not_valid_after < datetime.now(UTC)
    tsa_cert = test_pki.cert(LABELS.tsa)
    tsa_2023 = DummyTimeStamper(tsa_cert, test_pki.private_key(LABELS.tsa), fixed_dt=then)
    signed = sign_enveloped(build_claim(sample_encounter()), signer=_signer(test_pki, label),
                            timestampers=[tsa_2023], level=T)
    request = format_ocsp_request(cert, AuthorityWithCert(test_pki.interm),
                                  certid_hash_algo="sha1", request_nonces=False)
    response = test_pki.ocsp_responder(at=then).build_ocsp_response(request)
    root, sig = _signature(signed)
    add_validation_values(sig, ValidationValues(
        (cert, test_pki.interm, test_pki.root, tsa_cert, test_pki.cert(LABELS.ocsp_responder)),
        (response,), (test_pki.crl("root", at=then),)))
    lt = _serialize(root)
    result = verify_xml(lt, trust_roots=roots)
    assert (result.verdict, result.level) == ("VALID", LT), result
    assert result.timestamp_time.startswith("2023-06-01T08:00")
    today = verify_xml(lt, trust_roots=roots, at=datetime.now(UTC))
    assert today.verdict == "INDETERMINATE" and not today.trusted, today
