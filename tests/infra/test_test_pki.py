"""The test PKI (tests/pki/pki.yml) has the identities the suite relies on, as designed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.pki.testpki import LABELS, load_test_pki

SOFTWARE = (
    LABELS.root, LABELS.interm, LABELS.ocsp_responder, LABELS.tsa, LABELS.doctor_rsa,
    LABELS.doctor_ec, LABELS.doctor_revoked, LABELS.doctor_expired, LABELS.doctor_not_yet_valid,
    LABELS.doctor_weak_rsa1024, LABELS.nurse, LABELS.hospital_seal, LABELS.patient,
    LABELS.other_hospital_ca, LABELS.other_hospital_doctor,
)


def test_every_certificate_has_a_distinct_explicit_serial() -> None:
    """Default certomancer serials collide across issuers (NOTES.md)."""
    import yaml

    from tests.pki.testpki import ARCH, PKI_CONFIG

    certs = yaml.safe_load(PKI_CONFIG.read_text())["pki-architectures"][ARCH]["certs"]
    serials = [spec.get("serial") for spec in certs.values()]
    assert None not in serials
    assert len(serials) == len(set(serials))
    pki = load_test_pki()
    assert sorted(pki.cert(label).serial_number for label in SOFTWARE) == \
        sorted(certs[label]["serial"] for label in SOFTWARE)


def test_validity_windows_and_key_types() -> None:
    pki = load_test_pki()
    now = datetime.now(UTC)

    def valid_now(label: str) -> bool:
        c = pki.cert(label)
        return c.not_valid_before <= now <= c.not_valid_after

    for label in (LABELS.doctor_rsa, LABELS.doctor_ec, LABELS.nurse, LABELS.hospital_seal,
                  LABELS.tsa, LABELS.interm, LABELS.root):
        assert valid_now(label), label
    assert pki.cert(LABELS.doctor_expired).not_valid_after < now
    assert pki.cert(LABELS.doctor_not_yet_valid).not_valid_before > now
    assert pki.cert(LABELS.doctor_weak_rsa1024).public_key.bit_size == 1024
    assert pki.cert(LABELS.doctor_ec).public_key.algorithm == "ec"
    assert pki.cert(LABELS.doctor_ec).public_key.curve == ("named", "secp256r1")
    assert pki.cert(LABELS.hospital_seal).public_key.bit_size == 3072


def test_vietnamese_subjects_and_chains() -> None:
    pki = load_test_pki()
    doctor = pki.cert(LABELS.doctor_rsa)
    assert doctor.subject.native["common_name"] == "BS. Trần Thị Hoa"
    assert doctor.subject.native["country_name"] == "VN"
    assert [c.subject for c in pki.chain(LABELS.doctor_rsa)] == [pki.interm.subject,
                                                               pki.root.subject]
    other = pki.chain(LABELS.other_hospital_doctor)
    assert [c.subject for c in other] == [pki.cert(LABELS.other_hospital_ca).subject]
    assert pki.cert(LABELS.tsa).extended_key_usage_value.native == ["time_stamping"]


def test_revoked_doctor_is_on_the_in_process_crl() -> None:
    pki = load_test_pki()
    revoked = {
        entry["user_certificate"].native
        for entry in pki.crl("interm")["tbs_cert_list"]["revoked_certificates"]
    }
    assert revoked == {pki.cert(LABELS.doctor_revoked).serial_number}


def test_software_signer_signs_and_verifies() -> None:
    import asyncio

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    pki = load_test_pki()
    signer = pki.simple_signer(LABELS.doctor_rsa)
    signature = asyncio.run(signer.async_sign_raw(b"to sign", "sha256"))
    x509.load_der_x509_certificate(pki.cert(LABELS.doctor_rsa).dump()).public_key().verify(
        signature, b"to sign", padding.PKCS1v15(), hashes.SHA256())


@pytest.mark.services
def test_token_identities_match_the_public_keys_on_the_token(test_services) -> None:
    from pkcs11 import Attribute, ObjectClass

    pki = load_test_pki()
    assert pki.has_token_identities
    with test_services.token_session() as session:
        for label in LABELS.token_keys:
            pub = session.get_key(object_class=ObjectClass.PUBLIC_KEY, label=label)
            cert_key = pki.cert(label).public_key
            if cert_key.algorithm == "rsa":
                assert int.from_bytes(pub[Attribute.MODULUS], "big") == \
                    cert_key["public_key"].parsed["modulus"].native
            else:
                assert bytes(cert_key["public_key"]) in pub[Attribute.EC_POINT]


def test_test_tsa_with_cached_parts_answers_like_certomancer() -> None:
    """scripts/pki_server.py encodes the TSA's fixed parts once; the token it gives is
    certomancer's own (same fields, certificates and signed attributes), and a second
    token still gets a fresh serial, time and signature."""
    import hashlib
    import sys

    from asn1crypto import tsp
    from certomancer import services

    from tests.pki.testpki import PKI_CONFIG, REPO_ROOT

    sys.path.insert(0, str(REPO_ROOT / "scripts"))
    try:
        import pki_server
    finally:
        sys.path.remove(str(REPO_ROOT / "scripts"))
    stock = services.TimeStamper.request_tsa_response
    pki_server.build_app(PKI_CONFIG, REPO_ROOT, 0)  # installs the cached responder
    try:
        assert services.TimeStamper.request_tsa_response is not stock
        stamper = load_test_pki().timestamper()
        req = tsp.TimeStampReq({
            "version": 1, "cert_req": True, "nonce": 12345,
            "message_imprint": {"hash_algorithm": {"algorithm": "sha256"},
                                "hashed_message": hashlib.sha256(b"form").digest()}})
        ours = [services.TimeStamper.request_tsa_response(stamper, req) for _ in range(2)]
        theirs = stock(stamper, req)
    finally:
        services.TimeStamper.request_tsa_response = stock

    def shape(resp: tsp.TimeStampResp) -> dict:
        sd = resp["time_stamp_token"]["content"]
        info = sd["encap_content_info"]["content"].parsed.native
        si = sd["signer_infos"][0]
        return {
            "status": resp["status"].native,
            "info": {k: v for k, v in info.items() if k not in ("serial_number", "gen_time")},
            "certs": sorted(c.chosen.dump() for c in sd["certificates"]),
            "sid": si["sid"].native, "algos": (si["digest_algorithm"].native,
                                               si["signature_algorithm"].native),
            "attrs": [a["type"].native for a in si["signed_attrs"]],
            "signing_cert": si["signed_attrs"][2]["values"][0].native,
        }

    assert shape(ours[0]) == shape(theirs)
    assert shape(ours[0])["info"]["nonce"] == 12345
    first, second = (r["time_stamp_token"]["content"] for r in ours)
    assert first["encap_content_info"]["content"].parsed["serial_number"].native != \
        second["encap_content_info"]["content"].parsed["serial_number"].native
    assert first["signer_infos"][0]["signature"].native != \
        second["signer_infos"][0]["signature"].native
    # and each token is one pyHanko accepts: intact, signed by the TSA, over the digest
    import asyncio

    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
    from pyhanko_certvalidator import ValidationContext

    pki = load_test_pki()
    context = ValidationContext(trust_roots=[pki.root], other_certs=[pki.interm],
                                allow_fetching=False, revocation_mode="soft-fail")
    for signed_data in (first, second):
        status = asyncio.run(validate_tst_signed_data(
            signed_data, context, lambda _md: hashlib.sha256(b"form").digest()))
        assert status["intact"] and status["valid"], status
        assert status["trust_problem_indic"] is None and status["validation_path"] is not None
