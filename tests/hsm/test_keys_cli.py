"""``hsba keys`` and ``hsm.open_keystore`` / ``hsm.seed_demo_keys`` on both key stores."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import pem
from cryptography import x509

from api.cli import main
from core.settings import get_settings, reset_settings_cache
from hsm import open_keystore, seed_demo_keys
from hsm.dev_pki import DevPki
from hsm.pkcs11 import Pkcs11Keystore
from hsm.software import DevSoftwareKeystore


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> Any:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_enroll_issue_install_and_list_software(
    tmp_settings: Any, data_dir_with_pki: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    csr = tmp_path / "an.csr"
    assert main(["keys", "enroll", "--practitioner", "bs-an", "--name", "Nguyễn Văn An",
                 "--title", "Bác sĩ", "--facility", "BV Demo", "--csr-out", str(csr)]) == 0
    assert "bs-an" in capsys.readouterr().out
    request = x509.load_pem_x509_csr(csr.read_bytes())
    assert request.is_signature_valid
    listed = _json(capsys, ["keys", "list", "--json"])
    assert [(k["key_id"], k["status"]) for k in listed] == [("bs-an", "pending")]

    pki = DevPki.load_or_create(tmp_settings.data_dir)
    cert = pki.issue_practitioner(csr.read_bytes())
    (tmp_path / "an.crt").write_bytes(pem.armor("CERTIFICATE", cert.dump()))
    (tmp_path / "chain.pem").write_bytes(b"".join(pem.armor("CERTIFICATE", c.dump())
                                                  for c in pki.chain()))
    assert main(["--lang", "en", "keys", "install-cert", "--key", "bs-an",
                 "--cert", str(tmp_path / "an.crt"), "--chain", str(tmp_path / "chain.pem")]) == 0
    assert f"{cert.serial_number:x}" in capsys.readouterr().out
    (key,) = _json(capsys, ["keys", "list", "--json"])
    assert key["status"] == "active" and key["serial"] == f"{cert.serial_number:x}"
    assert key["algorithm"] == "rsa2048" and key["practitioner_id"] == "bs-an"
    assert key["not_after"].startswith(str(cert.not_valid_after.year))
    assert main(["keys", "list"]) == 0
    text = capsys.readouterr().out
    assert "bs-an" in text and "active" in text and "Nguyễn Văn An" in text


def test_enroll_with_dev_issue(tmp_settings: Any, data_dir_with_pki: Path, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "enroll", "--practitioner", "bs-binh", "--name", "Trần Thị Bình",
                 "--algorithm", "ecdsa-p256", "--csr-out", str(tmp_path / "b.csr"),
                 "--dev-issue"]) == 0
    assert "bs-binh" in capsys.readouterr().out
    (key,) = _json(capsys, ["keys", "list", "--json"])
    assert (key["key_id"], key["algorithm"], key["status"]) == ("bs-binh", "ecdsa-p256", "active")
    # revoked by the (development) CA: the list says so
    DevPki.load_or_create(tmp_settings.data_dir).revoke(int(key["serial"], 16))
    (key,) = _json(capsys, ["keys", "list", "--json"])
    assert key["status"] == "revoked"


def test_weak_algorithm_refused_with_both_languages(
    tmp_settings: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["keys", "enroll", "--practitioner", "bs-yeu", "--name", "X", "--algorithm",
            "rsa1024", "--csr-out", str(tmp_path / "x.csr")]
    assert main(argv) == 1
    assert "15/2025/TT-BKHCN" in capsys.readouterr().err
    assert main(["--lang", "en", *argv]) == 1
    assert "at least 2048 bits" in capsys.readouterr().err
    assert not (tmp_path / "x.csr").exists()


def test_bad_certificate_file_is_a_usage_error(
    tmp_settings: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "junk.crt").write_bytes(b"not a certificate")
    assert main(["keys", "install-cert", "--key", "bs-an", "--cert",
                 str(tmp_path / "junk.crt")]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_software_keystore_refused_in_production(
    tmp_settings: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HSBA_ENV", "production")
    reset_settings_cache()
    assert main(["keys", "list"]) == 2
    assert "DevSoftwareKeystore" in capsys.readouterr().err


def test_open_keystore_and_seed_demo_keys_software(tmp_settings: Any,
                                                   data_dir_with_pki: Path) -> None:
    ks = open_keystore(get_settings())
    assert isinstance(ks, DevSoftwareKeystore)
    pki = DevPki.load_or_create(tmp_settings.data_dir)
    first = seed_demo_keys(ks, pki)
    assert [k.key_id for k in first] == ["bs-an", "bs-binh", "dd-chi", "seal"]
    assert all(k.status == "active" for k in first)
    assert {k.key_id: k.algorithm for k in first}["bs-binh"] == "ecdsa-p256"
    assert seed_demo_keys(ks, pki) == first  # idempotent: nothing re-issued
    assert ks.key_info("seal").practitioner_id is None


@pytest.mark.services
def test_cli_on_the_hsm(tmp_settings: Any, data_dir_with_pki: Path,
                        token_keystore: Pkcs11Keystore, hsm_token: Any,
                        key_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HSBA_KEYSTORE", "pkcs11")
    monkeypatch.setenv("HSBA_PKCS11_MODULE", hsm_token.module)
    monkeypatch.setenv("HSBA_PKCS11_TOKEN_LABEL", hsm_token.label)
    monkeypatch.setenv("HSBA_PKCS11_USER_PIN", hsm_token.user_pin)
    reset_settings_cache()
    assert isinstance(open_keystore(get_settings()), Pkcs11Keystore)
    pid = f"{key_prefix}-cli"
    assert main(["keys", "enroll", "--practitioner", pid, "--name", "Võ Văn Em",
                 "--algorithm", "ecdsa-p256", "--csr-out", str(tmp_path / "e.csr"),
                 "--dev-issue"]) == 0
    capsys.readouterr()
    listed = {k["key_id"]: k for k in _json(capsys, ["keys", "list", "--json"])}
    assert listed[pid]["status"] == "active"
    assert "Võ Văn Em" in listed[pid]["subject"]
    for provisioned in ("doctor-an", "doctor-binh-ec"):  # keys provisioned on the token
        assert listed[provisioned]["status"] == "active"
