"""DevSoftwareKeystore: keys parsed once, signatures verify, refused in production."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest
from pyhanko.sign.validation.status import PdfSignatureStatus

from core.errors import ConfigurationError, Conflict, KeyCustodyError, NotFound
from hsm.dev_pki import DevPki
from hsm.keystore import KeyStore
from hsm.software import DevSoftwareKeystore
from hsm.subjects import PractitionerSubject

AN = PractitionerSubject(name="Nguyễn Văn An", title="Bác sĩ", facility="Bệnh viện Demo",
                         department="Khoa Ngoại", province="Tây Ninh", practitioner_id="bs-an")


def _certified(ks: DevSoftwareKeystore, pki: DevPki, key_id: str, algorithm: str) -> None:
    pub = ks.generate_key(key_id, algorithm)
    ks.store_certificate(key_id, pki.issue_practitioner(pub, AN), pki.chain())


def test_is_a_keystore_and_key_file_is_private(tmp_path: Path, dev_pki: DevPki) -> None:
    ks = DevSoftwareKeystore(tmp_path)
    assert isinstance(ks, KeyStore)
    _certified(ks, dev_pki, "bs-an", "rsa2048")
    mode = stat.S_IMODE((tmp_path / "keys" / "bs-an.key.pem").stat().st_mode)
    assert mode == 0o600
    info = ks.key_info("bs-an")
    assert info.status == "active" and info.algorithm == "rsa2048"
    assert info.practitioner_id == "bs-an"
    assert "Nguyễn Văn An" in info.subject


@pytest.mark.parametrize(("algorithm", "pss"), [("rsa2048", False), ("rsa2048", True),
                                                 ("ecdsa-p256", False), ("ecdsa-p384", False)])
def test_signatures_validate_and_key_is_parsed_once(
    tmp_path: Path, dev_pki: DevPki, one_page_pdf: bytes, sign_and_validate, algorithm: str,
    pss: bool,
) -> None:
    ks = DevSoftwareKeystore(tmp_path)
    _certified(ks, dev_pki, "k1", algorithm)
    signer = ks.signer_for("k1", pss=pss)
    assert ks.signer_for("k1", pss=pss) is signer
    for _ in range(3):
        _, status = asyncio.run(sign_and_validate(
            one_page_pdf, signer,
            validation_context=dev_pki.revocation_source().validation_context()))
        assert isinstance(status, PdfSignatureStatus)
        assert status.bottom_line, status.summary()
    expected = "rsassa_pss" if pss else ("sha256_rsa" if algorithm.startswith("rsa")
                                         else "sha256_ecdsa")
    assert status.pkcs7_signature_mechanism == expected
    assert ks.key_loads == 1


def test_a_new_keystore_instance_loads_once_more(tmp_path: Path, dev_pki: DevPki) -> None:
    ks = DevSoftwareKeystore(tmp_path)
    _certified(ks, dev_pki, "k1", "ecdsa-p256")
    ks.sign_raw("k1", b"x")
    ks.sign_raw("k1", b"y")
    assert ks.key_loads == 1
    again = DevSoftwareKeystore(tmp_path)
    assert again.key_loads == 0
    again.signer_for("k1")
    assert again.key_loads == 1


def test_refused_in_production(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HSBA_ENV", "production")
    with pytest.raises(ConfigurationError) as e:
        DevSoftwareKeystore(tmp_path)
    assert "DevSoftwareKeystore" in e.value.message_en
    assert "HSBA_ENV=production" in e.value.message_vi
    assert not (tmp_path / "keys").exists()


def test_warns_that_it_is_unsafe(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING"):
        DevSoftwareKeystore(tmp_path)
    assert any("development only" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("algorithm", ["rsa1024", "ecdsa-p192", "dsa2048", "rsa"])
def test_weak_algorithms_are_refused(tmp_path: Path, algorithm: str) -> None:
    ks = DevSoftwareKeystore(tmp_path)
    with pytest.raises(KeyCustodyError) as e:
        ks.generate_key("weak", algorithm)
    assert e.value.code == "keys.weak_algorithm"
    assert "15/2025/TT-BKHCN" in e.value.message_vi and "RSA" in e.value.message_en
    assert not list((tmp_path / "keys").glob("weak*"))


def test_bad_ids_duplicates_and_missing_keys(tmp_path: Path) -> None:
    ks = DevSoftwareKeystore(tmp_path)
    for bad in ["../escape", "a/b", "", ".hidden", "x" * 65]:
        with pytest.raises(KeyCustodyError):
            ks.generate_key(bad, "ecdsa-p256")
    ks.generate_key("dup", "ecdsa-p256")
    with pytest.raises(Conflict):
        ks.generate_key("dup", "ecdsa-p256")
    with pytest.raises(NotFound):
        ks.signer_for("missing")
    with pytest.raises(KeyCustodyError) as e:  # no certificate yet
        ks.signer_for("dup")
    assert e.value.code == "keys.certificate_pending"
    assert ks.key_info("dup").status == "pending"


def test_a_weak_key_placed_by_hand_gets_no_signer(tmp_path: Path) -> None:
    """A 1024-bit key and self-signed certificate copied into the key directory."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    ks = DevSoftwareKeystore(tmp_path)
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "weak")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + timedelta(days=1)).sign(key, hashes.SHA256()))
    (tmp_path / "keys" / "weak.key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    (tmp_path / "keys" / "weak.crt.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    assert ks.key_info("weak").algorithm == "rsa1024"
    with pytest.raises(KeyCustodyError) as e:
        ks.signer_for("weak")
    assert e.value.code == "keys.weak_algorithm"
