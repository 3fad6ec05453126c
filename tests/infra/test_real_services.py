"""The test services are the real thing: PostgreSQL, S3 Object Lock, a PKCS#11 token, a TSA, OCSP, CRL.

Nothing here is faked: each test talks to the process ``scripts/test-services.sh``
started, over its real protocol.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp as cocsp

pytestmark = pytest.mark.services


# ---- PostgreSQL ----------------------------------------------------------------
def test_postgresql_answers_in_the_session_database(test_services) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(test_services.pg_url)
    try:
        with engine.connect() as conn:
            version = conn.execute(text("select version()")).scalar_one()
            database = conn.execute(text("select current_database()")).scalar_one()
            conn.execute(text("create temporary table probe (n int)"))
            conn.execute(text("insert into probe values (42)"))
            assert conn.execute(text("select n from probe")).scalar_one() == 42
    finally:
        engine.dispose()
    assert version.startswith("PostgreSQL 15")
    assert database.startswith("hsba_t_"), "a per-session database, not the shared one"
    assert database in test_services.pg_url
    assert database not in test_services.pg_admin_url


# ---- S3 with Object Lock ---------------------------------------------------------
def _put(client, bucket: str, key: str, data: bytes):
    return client.put_object(bucket, key, io.BytesIO(data), len(data))


def test_s3_bucket_is_locked_in_compliance_mode(test_services) -> None:
    from minio.commonconfig import COMPLIANCE

    admin = test_services.minio(admin=True)
    lock = admin.get_object_lock_config(test_services.s3_bucket)
    assert lock.mode == COMPLIANCE
    assert (lock.duration, lock.duration_unit) == (1, "Days")
    assert admin.get_bucket_versioning(test_services.s3_bucket).status == "Enabled"


def test_s3_locked_object_cannot_be_deleted_or_overwritten(test_services) -> None:
    from minio.commonconfig import COMPLIANCE
    from minio.error import S3Error
    from minio.retention import Retention

    writer = test_services.minio()
    bucket = test_services.s3_bucket
    key = f"infra/{uuid.uuid4().hex}/v1.pdf"
    first = _put(writer, bucket, key, b"%PDF-1.7 original")
    assert first.version_id

    retention = writer.get_object_retention(bucket, key, version_id=first.version_id)
    assert retention.mode == COMPLIANCE
    assert retention.retain_until_date > datetime.now(UTC) + timedelta(hours=23)

    # deleting the version is refused, also by the admin identity
    for client in (writer, test_services.minio(admin=True)):
        with pytest.raises(S3Error) as refused:
            client.remove_object(bucket, key, version_id=first.version_id)
        assert refused.value.code == "AccessDenied"

    # shortening the retention is refused
    with pytest.raises(S3Error) as refused:
        writer.set_object_retention(
            bucket, key,
            Retention(COMPLIANCE, datetime.now(UTC) + timedelta(minutes=5)),
            version_id=first.version_id,
        )
    assert refused.value.code == "AccessDenied"

    # writing the same key again makes a new version; the first stays intact
    second = _put(writer, bucket, key, b"%PDF-1.7 tampered")
    assert second.version_id != first.version_id
    versions = {
        o.version_id for o in writer.list_objects(bucket, prefix=key, include_version=True)
    }
    assert {first.version_id, second.version_id} <= versions
    old = writer.get_object(bucket, key, version_id=first.version_id)
    try:
        assert old.read() == b"%PDF-1.7 original"
    finally:
        old.close()
        old.release_conn()


def test_s3_writer_identity_is_not_admin(test_services) -> None:
    from minio.error import S3Error

    with pytest.raises(S3Error) as refused:
        test_services.minio().make_bucket(f"not-allowed-{uuid.uuid4().hex[:8]}")
    assert refused.value.code == "AccessDenied"


def test_s3_wrong_secret_is_refused(test_services) -> None:
    from minio import Minio
    from minio.error import S3Error

    intruder = Minio(test_services.s3_endpoint, access_key=test_services.s3_access_key,
                     secret_key="not-the-secret", secure=False)
    with pytest.raises(S3Error) as refused:
        intruder.list_objects(test_services.s3_bucket).__next__()
    assert refused.value.code in ("SignatureDoesNotMatch", "AccessDenied")


# ---- PKCS#11 token (SoftHSM2) -------------------------------------------------------
@pytest.fixture
def token_session(test_services):
    with test_services.token_session() as session:
        yield session


def test_token_private_keys_are_non_extractable_and_sensitive(test_services, token_session) -> None:
    import pkcs11
    from pkcs11 import Attribute, ObjectClass

    for label in test_services.pkcs11_keys:
        key = token_session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=label)
        assert key[Attribute.SENSITIVE] is True
        assert key[Attribute.ALWAYS_SENSITIVE] is True
        assert key[Attribute.EXTRACTABLE] is False
        assert key[Attribute.NEVER_EXTRACTABLE] is True
        assert key[Attribute.LOCAL] is True, "generated on the token, not imported"
        secret = Attribute.PRIVATE_EXPONENT if key.key_type == pkcs11.KeyType.RSA \
            else Attribute.VALUE
        with pytest.raises(pkcs11.exceptions.AttributeSensitive):
            key[secret]


def test_token_keys_have_expected_algorithms(test_services, token_session) -> None:
    from pkcs11 import Attribute, KeyType, ObjectClass

    expected = {"doctor-an": (KeyType.RSA, 2048), "doctor-binh-ec": (KeyType.EC, 256),
                "nurse-chi": (KeyType.RSA, 2048), "seal": (KeyType.RSA, 3072)}
    for label, (key_type, bits) in expected.items():
        pub = token_session.get_key(object_class=ObjectClass.PUBLIC_KEY, label=label)
        assert pub.key_type == key_type
        if key_type == KeyType.RSA:
            assert pub[Attribute.MODULUS_BITS] == bits


def test_token_signatures_verify_with_their_certificates(test_services, token_session,
                                                         test_pki) -> None:
    from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
    from pkcs11.util.ec import encode_ecdsa_signature

    message = b"Phieu cham soc / care sheet, document 42"
    for label in test_services.pkcs11_keys:
        key = token_session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=label)
        cert_obj = next(token_session.get_objects(
            {Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.LABEL: label}))
        cert_der = cert_obj[Attribute.VALUE]
        assert cert_obj[Attribute.ID] == label.encode()
        # the token holds exactly the certificate the test PKI (and its OCSP responder) knows
        assert cert_der == test_pki.cert(label).dump()
        cert = cx509.load_der_x509_certificate(cert_der)
        if key.key_type == KeyType.RSA:
            sig = key.sign(message, mechanism=Mechanism.SHA256_RSA_PKCS)
            cert.public_key().verify(sig, message, padding.PKCS1v15(), hashes.SHA256())
        else:  # SoftHSM2 has no CKM_ECDSA_SHA256: sign the digest with raw ECDSA
            raw = key.sign(hashlib.sha256(message).digest(), mechanism=Mechanism.ECDSA)
            cert.public_key().verify(encode_ecdsa_signature(raw), message,
                                     ec.ECDSA(hashes.SHA256()))


def test_pyhanko_pkcs11_signer_finds_key_certificate_and_chain(test_services, token_session,
                                                              test_pki) -> None:
    from pyhanko.sign.pkcs11 import PKCS11Signer

    signer = PKCS11Signer(token_session, key_label="doctor-an", cert_label="doctor-an",
                          other_certs_to_pull=None)
    signature = asyncio.run(signer.async_sign_raw(b"data", "sha256"))
    assert signer.signing_cert.dump() == test_pki.cert("doctor-an").dump()
    chain = {c.dump() for c in signer.cert_registry}
    assert test_pki.interm.dump() in chain and test_pki.root.dump() in chain
    cx509.load_der_x509_certificate(signer.signing_cert.dump()).public_key().verify(
        signature, b"data", padding.PKCS1v15(), hashes.SHA256())


# ---- certomancer over HTTP: TSA, OCSP, CRL ------------------------------------------
def test_tsa_answers_rfc3161_over_http(test_services, test_pki) -> None:
    from pyhanko.sign.timestamps import HTTPTimeStamper
    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
    from pyhanko_certvalidator import ValidationContext

    digest = hashlib.sha256(b"a clinical form").digest()
    stamper = HTTPTimeStamper(test_services.tsa_url, timeout=10)
    token = asyncio.run(stamper.async_timestamp(digest, "sha256"))
    signed_data = token["content"]
    tst_info = signed_data["encap_content_info"]["content"].parsed
    assert tst_info["message_imprint"]["hashed_message"].native == digest
    gen_time = tst_info["gen_time"].native
    assert abs(gen_time - datetime.now(UTC)) < timedelta(minutes=5)

    vc = ValidationContext(trust_roots=[test_pki.root], allow_fetching=True)
    status = asyncio.run(validate_tst_signed_data(signed_data, vc, lambda _algo: digest))
    assert status["intact"] and status["valid"]
    assert status["signing_cert"].dump() == test_pki.cert("tsa").dump()
    assert status["trust_problem_indic"] is None


def _ocsp_status(test_services, test_pki, label: str) -> tuple[str, object]:
    """(status, revocation info) from the HTTP OCSP responder, signature checked.

    Parsed with asn1crypto: certomancer's producedAt carries fractional seconds,
    which pyca/cryptography's strict DER parser refuses.
    """
    from asn1crypto import ocsp as aocsp

    cert = cx509.load_der_x509_certificate(test_pki.cert(label).dump())
    issuer = cx509.load_der_x509_certificate(test_pki.interm.dump())
    request = cocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256()).build()
    aia = cert.extensions.get_extension_for_class(cx509.AuthorityInformationAccess).value
    assert aia[0].access_location.value == test_services.ocsp_url
    response = httpx.post(test_services.ocsp_url, content=request.public_bytes(Encoding.DER),
                          headers={"Content-Type": "application/ocsp-request"}, timeout=10)
    response.raise_for_status()
    parsed = aocsp.OCSPResponse.load(response.content)
    assert parsed["response_status"].native == "successful"
    basic = parsed.basic_ocsp_response
    single = basic["tbs_response_data"]["responses"][0]
    assert single["cert_id"]["serial_number"].native == cert.serial_number
    responder = cx509.load_der_x509_certificate(test_pki.cert("interm-ocsp").dump())
    responder.public_key().verify(
        basic["signature"].native, basic["tbs_response_data"].dump(), padding.PKCS1v15(),
        hashes.SHA256(),
    )
    status = single["cert_status"]
    return status.name, status.native


def test_ocsp_good_for_valid_doctor_and_token_doctor(test_services, test_pki) -> None:
    for label in ("doctor-hoa", "doctor-an"):
        assert _ocsp_status(test_services, test_pki, label)[0] == "good"


def test_ocsp_revoked_for_revoked_doctor(test_services, test_pki) -> None:
    name, info = _ocsp_status(test_services, test_pki, "doctor-revoked")
    assert name == "revoked"
    assert info["revocation_reason"] == "key_compromise"


def test_crl_over_http_lists_the_revoked_doctor_only(test_services, test_pki) -> None:
    response = httpx.get(test_services.crl_url, timeout=10)
    response.raise_for_status()
    crl = cx509.load_der_x509_crl(response.content)
    revoked = {entry.serial_number for entry in crl}
    assert revoked == {test_pki.cert("doctor-revoked").serial_number}
    issuer = cx509.load_der_x509_certificate(test_pki.interm.dump())
    assert crl.is_signature_valid(issuer.public_key())
    assert crl.next_update_utc > datetime.now(UTC)


def test_pki_latency_can_be_set_and_reset(test_services) -> None:
    url = f"{test_services.pki_url}/_hsba/delay"
    try:
        assert httpx.post(url, params={"ms": 25}, timeout=5).json() == {"delay_ms": 25}
        assert httpx.get(url, timeout=5).json() == {"delay_ms": 25}
        assert httpx.get(test_services.crl_url, timeout=10).status_code == 200
    finally:
        assert httpx.post(url, params={"ms": 0}, timeout=5).json() == {"delay_ms": 0}


def test_http_pki_serves_the_same_certificates_as_in_process(test_services, test_pki) -> None:
    """CA keys are RSA: certificates are byte-identical in-process and over HTTP, and the
    CA-issuers URL in a practitioner certificate leads to its issuing CA."""
    doctor = cx509.load_der_x509_certificate(test_pki.cert("doctor-hoa").dump())
    aia = doctor.extensions.get_extension_for_class(cx509.AuthorityInformationAccess).value
    ca_issuers = [d.access_location.value for d in aia
                  if d.access_method == cx509.oid.AuthorityInformationAccessOID.CA_ISSUERS]
    assert ca_issuers and ca_issuers[0].startswith(test_services.pki_url)
    served = httpx.get(ca_issuers[0], timeout=10)
    served.raise_for_status()
    assert served.content == test_pki.interm.dump()


def test_real_services_settings_use_no_development_adapter(real_services_settings,
                                                           test_services) -> None:
    from core.settings import get_settings

    assert real_services_settings.development_adapters() == []
    assert get_settings() is real_services_settings
    assert real_services_settings.tsa_urls == [test_services.tsa_url]
    assert real_services_settings.trust_pems[0].read_bytes().startswith(b"-----BEGIN CERTIFICATE")
