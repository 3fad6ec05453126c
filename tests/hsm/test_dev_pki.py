"""The development PKI: created once, TSA tokens verify with openssl, CRL/OCSP correct."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from asn1crypto import pem
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from pyhanko_certvalidator import CertificateValidator
from pyhanko_certvalidator.errors import RevokedError

from core.errors import ConfigurationError, InvalidInput, KeyCustodyError
from hsm.dev_pki import DevPki
from hsm.subjects import OrganisationSubject, PractitionerSubject

SUBJ = PractitionerSubject(name="Trần Thị Bình", title="Bác sĩ", facility="BV Demo",
                           practitioner_id="bs-binh")


def _pub() -> ec.EllipticCurvePublicKey:
    return ec.generate_private_key(ec.SECP256R1()).public_key()


def _der(cert) -> bytes:  # type: ignore[no-untyped-def]
    return cert.dump()


def test_created_once_and_reloaded_identically(tmp_path: Path) -> None:
    first = DevPki.load_or_create(tmp_path, base_url="http://127.0.0.1:8123")
    files = {p.name: p.read_bytes() for p in (tmp_path / "pki").glob("*.pem")}
    second = DevPki.load_or_create(tmp_path)
    assert [c.dump() for c in second.trust_roots] == [c.dump() for c in first.trust_roots]
    assert [c.dump() for c in second.intermediates] == [c.dump() for c in first.intermediates]
    assert second.tsa_certificate.dump() == first.tsa_certificate.dump()
    assert {p.name: p.read_bytes() for p in (tmp_path / "pki").glob("*.pem")} == files
    root = first.trust_roots[0]
    assert "KHÔNG DÙNG THẬT" in root.subject.native["common_name"]
    assert root.self_signed == "maybe"
    # the issuing CA issued by the root, the URLs under base_url
    leaf = x509.load_der_x509_certificate(second.issue_practitioner(_pub(), SUBJ).dump())
    dp = leaf.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert dp[0].full_name[0].value == "http://127.0.0.1:8123/dev-pki/crl/issuing.crl"


def test_two_processes_starting_at_once_get_the_same_pki(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        pkis = list(pool.map(lambda _: DevPki.load_or_create(tmp_path), range(2)))
    roots = {p.trust_roots[0].dump() for p in pkis} | {
        DevPki.load_or_create(tmp_path).trust_roots[0].dump()}
    assert len(roots) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["pki"]  # no leftovers


def test_tsa_certificate_has_critical_timestamping_eku(dev_pki: DevPki) -> None:
    cert = x509.load_der_x509_certificate(dev_pki.tsa_certificate.dump())
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [x509.oid.ExtendedKeyUsageOID.TIME_STAMPING]


def test_tsa_token_verifies_with_openssl(dev_pki: DevPki, tmp_path: Path) -> None:
    data = b"noi dung can dong dau thoi gian"
    digest = hashlib.sha256(data).digest()
    tsa = dev_pki.timestamper()
    assert dev_pki.timestamper() is tsa
    token = asyncio.run(tsa.async_timestamp(digest, "sha256"))
    (tmp_path / "token.der").write_bytes(token.dump())
    (tmp_path / "data.bin").write_bytes(data)
    (tmp_path / "ca.pem").write_bytes(b"".join(
        pem.armor("CERTIFICATE", c.dump()) for c in [*dev_pki.trust_roots, *dev_pki.intermediates]))
    ok = subprocess.run(["openssl", "ts", "-verify", "-token_in", "-in", "token.der",
                         "-data", "data.bin", "-CAfile", "ca.pem"],
                        check=False, cwd=tmp_path, capture_output=True, text=True)
    assert ok.returncode == 0 and "Verification: OK" in ok.stdout, ok.stderr
    (tmp_path / "other.bin").write_bytes(b"tampered")
    bad = subprocess.run(["openssl", "ts", "-verify", "-token_in", "-in", "token.der",
                          "-data", "other.bin", "-CAfile", "ca.pem"],
                         check=False, cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode != 0


def test_crl_is_signed_by_the_ca_and_lists_revoked_serials(dev_pki: DevPki) -> None:
    pki = dev_pki
    good = pki.issue_practitioner(_pub(), SUBJ)
    bad = pki.issue_practitioner(_pub(), SUBJ)
    pki.revoke(bad.serial_number, reason="key_compromise")
    crl = x509.load_der_x509_crl(pki.crl_der())
    issuing = x509.load_der_x509_certificate(pki.intermediates[0].dump())
    assert crl.issuer == issuing.subject
    assert crl.is_signature_valid(issuing.public_key())  # type: ignore[arg-type]
    entry = crl.get_revoked_certificate_by_serial_number(bad.serial_number)
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == \
        x509.ReasonFlags.key_compromise
    assert crl.get_revoked_certificate_by_serial_number(good.serial_number) is None
    assert crl.next_update_utc > datetime.now(UTC)
    root_crl = x509.load_der_x509_crl(pki.crl_der("root"))
    root = x509.load_der_x509_certificate(pki.trust_roots[0].dump())
    assert root_crl.is_signature_valid(root.public_key())  # type: ignore[arg-type]
    assert len(list(root_crl)) == 0
    with pytest.raises(InvalidInput):
        pki.revoke(good.serial_number, reason="because")


def test_ocsp_answers_good_revoked_unknown_and_keeps_the_nonce(dev_pki: DevPki) -> None:
    pki = dev_pki
    issuing = x509.load_der_x509_certificate(pki.intermediates[0].dump())
    good = x509.load_der_x509_certificate(pki.issue_practitioner(_pub(), SUBJ).dump())
    bad = x509.load_der_x509_certificate(pki.issue_practitioner(_pub(), SUBJ).dump())
    pki.revoke(bad.serial_number)
    responder = x509.load_der_x509_certificate(pki.ocsp_certificate.dump())

    def ask(cert: x509.Certificate, nonce: bytes | None = None) -> ocsp.OCSPResponse:
        b = ocsp.OCSPRequestBuilder().add_certificate(cert, issuing, hashes.SHA1())
        if nonce:
            b = b.add_extension(x509.OCSPNonce(nonce), critical=False)
        der = b.build().public_bytes(serialization.Encoding.DER)
        return ocsp.load_der_ocsp_response(pki.ocsp_response(der))

    r = ask(good, b"0123456789abcdef")
    assert r.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert r.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert r.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"0123456789abcdef"
    responder.public_key().verify(  # type: ignore[union-attr, call-arg]
        r.signature, r.tbs_response_bytes,
        __import__("cryptography.hazmat.primitives.asymmetric.padding",
                   fromlist=["PKCS1v15"]).PKCS1v15(), hashes.SHA256())
    assert ask(bad).certificate_status == ocsp.OCSPCertStatus.REVOKED
    # a serial this PKI never issued, under the right issuer: "unknown"
    req = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        issuer_name_hash=ask_hash(issuing, "name"), issuer_key_hash=ask_hash(issuing, "key"),
        serial_number=12345, algorithm=hashes.SHA1()).build()
    unknown = ocsp.load_der_ocsp_response(pki.ocsp_response(req.public_bytes(
        serialization.Encoding.DER)))
    assert unknown.certificate_status == ocsp.OCSPCertStatus.UNKNOWN
    garbage = ocsp.load_der_ocsp_response(pki.ocsp_response(b"not an ocsp request"))
    assert garbage.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def ask_hash(issuer: x509.Certificate, what: str) -> bytes:
    h = hashes.Hash(hashes.SHA1())
    if what == "name":
        h.update(issuer.subject.public_bytes())
    else:
        h.update(issuer.public_key().public_bytes(serialization.Encoding.DER,
                                                  serialization.PublicFormat.PKCS1))
    return h.finalize()


def test_revocation_source_refuses_a_revoked_certificate(dev_pki: DevPki) -> None:
    pki = dev_pki
    good = pki.issue_practitioner(_pub(), SUBJ)
    bad = pki.issue_practitioner(_pub(), SUBJ)
    pki.revoke(bad.serial_number)
    source = pki.revocation_source()
    ctx = source.validation_context()
    assert source.validation_context() is not ctx  # one context per signature
    path = asyncio.run(CertificateValidator(good, validation_context=ctx).async_validate_usage(
        {"non_repudiation"}))
    assert path.first.dump() == pki.trust_roots[0].dump()
    assert ctx.ocsps  # answered in process by the dev OCSP responder
    with pytest.raises(RevokedError):
        asyncio.run(CertificateValidator(
            bad, validation_context=source.validation_context()).async_validate_usage(
            {"non_repudiation"}))
    material = pki.revocation_material(good)
    assert len(material.crls) == 2 and len(material.ocsp_responses) == 1


def test_seal_certificate_and_weak_keys(dev_pki: DevPki) -> None:
    pki = dev_pki
    seal = pki.issue_organisation_seal(
        _pub(), OrganisationSubject("Bệnh viện Đa khoa Demo", hospital_code="70001"))
    assert seal.subject.native["organization_name"] == "Bệnh viện Đa khoa Demo"
    from cryptography.hazmat.primitives.asymmetric import rsa
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    with pytest.raises(KeyCustodyError):
        pki.issue_practitioner(weak, SUBJ)


def test_refused_in_production(dev_pki_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HSBA_ENV", "production")
    with pytest.raises(ConfigurationError):
        DevPki.load_or_create(dev_pki_dir)
    monkeypatch.setenv("HSBA_ENV", "development")
    pki = DevPki.load_or_create(dev_pki_dir)
    monkeypatch.setenv("HSBA_ENV", "production")
    with pytest.raises(ConfigurationError):
        pki.timestamper()


def test_b_lta_with_dev_tsa_and_in_process_revocation(
    tmp_path: Path, dev_pki: DevPki, one_page_pdf: bytes, sign_and_validate
) -> None:
    from hsm.software import DevSoftwareKeystore

    ks = DevSoftwareKeystore(tmp_path)
    pub = ks.generate_key("bs-binh", "ecdsa-p256")
    ks.store_certificate("bs-binh", dev_pki.issue_practitioner(pub, SUBJ), dev_pki.chain())
    src = dev_pki.revocation_source()
    data, status = asyncio.run(sign_and_validate(
        one_page_pdf, ks.signer_for("bs-binh"), signing_context=src.validation_context(),
        validation_context=src.validation_context(), timestamper=dev_pki.timestamper()))
    assert status.bottom_line, status.summary()
    assert status.timestamp_validity is not None and status.timestamp_validity.intact
    assert b"/DocTimeStamp" in data or b"/ETSI.RFC3161" in data
