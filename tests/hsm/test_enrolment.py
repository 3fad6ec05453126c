"""Enrolment: key pair made in the store, CSR signed by it, certificate installed, rotation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from asn1crypto import pem
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from core.errors import KeyCustodyError
from hsm.dev_pki import DevPki
from hsm.enrolment import enroll, install_certificate
from hsm.keystore import KeyStore
from hsm.pkcs11 import Pkcs11Keystore
from hsm.software import DevSoftwareKeystore
from hsm.subjects import PractitionerSubject

SUBJECT = PractitionerSubject(name="Phạm Thị Dung", title="Điều dưỡng trưởng",
                              facility="Bệnh viện Đa khoa Demo", department="Khoa Nội",
                              province="Tây Ninh", national_id="072190001234")


@pytest.fixture(params=["software", pytest.param("pkcs11", marks=pytest.mark.services)])
def keystore(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KeyStore]:
    if request.param == "software":
        yield DevSoftwareKeystore(tmp_path)
    else:
        yield request.getfixturevalue("token_keystore")


@pytest.fixture()
def pid(key_prefix: str) -> str:
    """Unique per test: keys made on the shared token are removed afterwards."""
    return f"{key_prefix}-dung"


@pytest.mark.parametrize("algorithm", ["rsa2048", "ecdsa-p256"])
def test_csr_is_signed_by_the_new_key_and_carries_the_subject(
    keystore: KeyStore, pid: str, algorithm: str
) -> None:
    req = enroll(keystore, pid, SUBJECT, algorithm)
    assert req.key_id == pid
    csr = x509.load_pem_x509_csr(req.csr_pem)
    assert csr.is_signature_valid
    attrs = {a.oid._name: a.value for a in csr.subject}
    assert attrs["commonName"] == "Phạm Thị Dung"
    assert attrs["title"] == "Điều dưỡng trưởng"
    assert attrs["organizationName"] == "Bệnh viện Đa khoa Demo"
    assert attrs["organizationalUnitName"] == "Khoa Nội"
    assert attrs["stateOrProvinceName"] == "Tây Ninh"
    assert attrs["serialNumber"] == pid
    assert attrs["userID"] == "CCCD:072190001234"
    info = keystore.key_info(req.key_id)
    assert info.status == "pending" and info.algorithm == algorithm
    assert info.practitioner_id == pid
    assert keystore.public_key(req.key_id).dump() == csr.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_install_list_and_sign(keystore: KeyStore, dev_pki: DevPki, pid: str) -> None:
    req = enroll(keystore, pid, SUBJECT, "ecdsa-p256")
    cert = dev_pki.issue_practitioner(req.csr_pem)
    info = install_certificate(keystore, req.key_id, pem.armor("CERTIFICATE", cert.dump()),
                               b"".join(pem.armor("CERTIFICATE", c.dump())
                                        for c in dev_pki.chain()))
    assert info.status == "active"
    assert info.serial == cert.serial_number
    assert info.not_after == cert.not_valid_after
    assert "Phạm Thị Dung" in info.subject and "hsba DEV Issuing CA" in info.issuer
    listed = {k.key_id: k for k in keystore.list_keys()}
    assert listed[req.key_id] == info
    assert keystore.signer_for(req.key_id).signing_cert.dump() == cert.dump()


def test_a_certificate_for_another_key_is_refused(keystore: KeyStore, dev_pki: DevPki,
                                                  pid: str) -> None:
    first = enroll(keystore, pid, SUBJECT, "ecdsa-p256")
    second = enroll(keystore, pid, SUBJECT, "ecdsa-p256")
    assert second.key_id == f"{pid}~2"
    cert = dev_pki.issue_practitioner(second.csr_pem)
    with pytest.raises(KeyCustodyError) as e:
        install_certificate(keystore, first.key_id, cert)
    assert e.value.code == "keys.certificate_mismatch"
    assert keystore.key_info(first.key_id).status == "pending"


def test_renewal_and_rekey_keep_the_history(keystore: KeyStore, dev_pki: DevPki,
                                            pid: str) -> None:
    req = enroll(keystore, pid, SUBJECT, "ecdsa-p256")
    old = dev_pki.issue_practitioner(req.csr_pem, days=30)
    install_certificate(keystore, req.key_id, old, dev_pki.chain())
    # renewal: a new certificate for the same key; the old one stays in the history
    new = dev_pki.issue_practitioner(req.csr_pem, days=400)
    info = install_certificate(keystore, req.key_id, new, dev_pki.chain())
    assert info.serial == new.serial_number
    assert [h.serial for h in info.history] == [old.serial_number]
    # re-key: a new key for the same practitioner; the old key shows as rotated
    rekey = enroll(keystore, pid, SUBJECT, "ecdsa-p256")
    install_certificate(keystore, rekey.key_id,
                        dev_pki.issue_practitioner(rekey.csr_pem), dev_pki.chain())
    listed = {k.key_id: k for k in keystore.list_keys()}
    assert listed[rekey.key_id].status == "active"
    assert listed[req.key_id].status == "rotated"
    assert [h.serial for h in listed[req.key_id].history] == [old.serial_number]
    # the old key's certificates remain readable for verifying old signatures
    assert keystore.certificate(req.key_id).serial_number == new.serial_number


@pytest.mark.parametrize("algorithm", ["rsa1024", "ecdsa-p192", "ed25519"])
def test_weak_or_unknown_algorithms_are_refused(keystore: KeyStore, pid: str,
                                                algorithm: str) -> None:
    with pytest.raises(KeyCustodyError) as e:
        enroll(keystore, pid, SUBJECT, algorithm)
    assert e.value.code == "keys.weak_algorithm"
    assert "RSA" in e.value.message_vi and "P-256" in e.value.message_en
    assert pid not in {k.key_id for k in keystore.list_keys()}


@pytest.mark.services
def test_pkcs11_enrolment_generates_on_the_token(request: pytest.FixtureRequest,
                                                 dev_pki: DevPki, pid: str) -> None:
    ks: Pkcs11Keystore = request.getfixturevalue("token_keystore")
    req = enroll(ks, pid, SUBJECT, "rsa2048")
    from pkcs11 import Attribute, ObjectClass

    def inspect(pooled):  # type: ignore[no-untyped-def]
        (key,) = pooled.session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                                             Attribute.LABEL: req.key_id})
        return (key[Attribute.LOCAL], key[Attribute.NEVER_EXTRACTABLE],
                key[Attribute.ALWAYS_SENSITIVE], bytes(key[Attribute.ID]))
    assert ks.pool.run(inspect, what="inspect") == (True, True, True, pid.encode())
