"""Trust policy and ``hsba trust update``: install only certificates whose SHA-256 is listed.

The national certificates are read in place from shared/trust beside the checkout (never copied into
the repository); the HTTP source is a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from asn1crypto import pem

from core.errors import PolicyError
from policies import PolicySet, load_policies
from policies.certificates import parse_certificates
from policies.trust_update import update_trust_store
from tests.shared_data import TRUST

SHARED = TRUST
G2 = "bac8bf609ab420a8ee1780d74f4de5c7f7184959d2a7375b0a75e4c29f0908e7"
G3 = "7b3269e7d79aebbfae5095f45bbb7074771e690cb7df02b441062b12f7690ece"
MIC_SHA1 = "ca918d635bb130bec97639e6aabf7edbc4eb1310f8058b9419f467ae0230ad8c"


def _der(name: str) -> bytes:
    _t, _h, der = pem.unarmor((SHARED / name).read_bytes())
    return der


def test_shipped_fingerprints_are_the_published_ones(defaults: PolicySet) -> None:
    """Every PEM in the cross-checked set is listed, by the fingerprint its README publishes."""
    readme = (SHARED / "README.md").read_text(encoding="utf-8")
    pems = sorted(SHARED.glob("*.pem"))
    assert len(pems) >= 13
    for path in pems:
        fp = hashlib.sha256(_der(path.name)).hexdigest()
        assert f"`{fp}`" in readme, path.name
        anchor = defaults.trust.anchor(fp)
        assert anchor is not None and anchor.id == path.stem, path.name
    assert defaults.trust.anchor(G2).role == "root"
    assert not defaults.trust.accepts(MIC_SHA1)  # legacy SHA-1 root: listed, disabled
    assert defaults.trust.revocation.check_before_signing and defaults.trust.revocation.fail_closed


def test_update_from_a_directory_accepts_the_listed_certificates(defaults: PolicySet,
                                                                tmp_path: Path) -> None:
    store = tmp_path / "store"
    report = update_trust_store(defaults.trust, store, source_dir=SHARED)
    enabled = {a.id for a in defaults.trust.anchors if a.enabled}
    assert {a.anchor_id for a in report.accepted} == enabled
    assert report.rejected == [] and report.ok
    assert [s.sha256 for s in report.skipped] == [MIC_SHA1]
    assert sorted(p.stem for p in store.glob("*.pem")) == sorted(enabled)
    roots = defaults.trust.trust_roots(store)
    assert G2 in {c.sha256 for c in roots} and G3 in {c.sha256 for c in roots}
    assert all(c.certificate.self_signed for c in roots)
    assert {c.sha256 for c in defaults.trust.trust_roots(store, "timestamping")} == {
        "d343b3c5132f7d1676c3560025aefef036fceec073c33f18e075b3a21c8f8552"}
    assert len(defaults.trust.intermediates(store)) == 5
    # what signer.verify takes as the policy's trust list: every enabled root, asn1crypto
    certs = defaults.trust.certificates(store)
    assert len(certs) == 7 and all(c.self_signed for c in certs)
    assert G2 in {hashlib.sha256(c.dump()).hexdigest() for c in certs}


def test_default_store_is_under_data_dir(defaults: PolicySet, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from core.settings import reset_settings_cache

    monkeypatch.setenv("HSBA_DATA_DIR", str(tmp_path))
    reset_settings_cache()
    try:
        assert defaults.trust.certificates() == []
        update_trust_store(defaults.trust, tmp_path / "trust", source_dir=SHARED)
        assert len(defaults.trust.certificates()) == 7
    finally:
        monkeypatch.delenv("HSBA_DATA_DIR")
        reset_settings_cache()


def test_a_tampered_certificate_is_rejected(defaults: PolicySet, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    der = bytearray(_der("vn-national-root-ca-g2.pem"))
    der[-10] ^= 0x01  # one bit of the signature
    (src / "vnrca256.crt").write_bytes(pem.armor("CERTIFICATE", bytes(der)))
    (src / "vnrca-g3.cer").write_bytes(_der("vn-national-root-ca-g3.pem"))  # DER
    (src / "README.txt").write_text("ignored")
    store = tmp_path / "store"
    report = update_trust_store(defaults.trust, store, source_dir=src)
    assert [a.sha256 for a in report.accepted] == [G3]
    assert len(report.rejected) == 1 and not report.ok
    bad = report.rejected[0]
    assert bad.sha256 == hashlib.sha256(bytes(der)).hexdigest() != G2
    assert "Vietnam National Root CA" in bad.subject
    assert "not in the trust policy" in bad.reason_en
    assert not (store / "vn-national-root-ca-g2.pem").exists()
    assert sorted(p.name for p in store.iterdir()) == ["vn-national-root-ca-g3.pem"]


def test_installed_store_is_rechecked(defaults: PolicySet, tmp_path: Path) -> None:
    """A file slipped into the store by hand is not trusted unless its fingerprint is listed."""
    store = tmp_path / "store"
    store.mkdir()
    der = bytearray(_der("vn-national-root-ca-g3.pem"))
    der[-5] ^= 0x01
    (store / "vn-national-root-ca-g3.pem").write_bytes(pem.armor("CERTIFICATE", bytes(der)))
    assert defaults.trust.trust_roots(store) == []


@pytest.fixture()
def http_dir(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def test_update_from_a_url_serving_a_p7b(defaults: PolicySet, tmp_path: Path,
                                         http_dir: tuple[str, Path]) -> None:
    base, root = http_dir
    subprocess.run(["openssl", "crl2pkcs7", "-nocrl", "-outform", "DER",
                    "-certfile", str(SHARED / "vn-national-root-ca-ema.pem"),
                    "-certfile", str(SHARED / "vn-national-ca-erd.pem"),
                    "-out", str(root / "vnca-erd.p7b")], check=True)
    assert len(parse_certificates((root / "vnca-erd.p7b").read_bytes())) == 2
    store = tmp_path / "store"
    report = update_trust_store(defaults.trust, store, source_url=f"{base}/vnca-erd.p7b")
    assert sorted(a.anchor_id for a in report.accepted) == [
        "vn-national-ca-erd", "vn-national-root-ca-ema"]
    assert report.ok
    # the same bundle PEM-armoured ("-----BEGIN PKCS7-----"), as some CAs publish it
    (root / "vnca-erd.p7c").write_bytes(pem.armor("PKCS7", (root / "vnca-erd.p7b").read_bytes()))
    again = update_trust_store(defaults.trust, tmp_path / "store2",
                               source_url=f"{base}/vnca-erd.p7c")
    assert len(again.accepted) == 2 and again.ok
    missing = update_trust_store(defaults.trust, store, source_url=f"{base}/nope.p7b")
    assert not missing.ok and "404" in missing.rejected[0].reason_en


def test_hospital_adds_its_own_ca(defaults: PolicySet, tmp_path: Path) -> None:
    pol = tmp_path / "pol"
    pol.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                    "-subj", "/CN=Benh vien Da khoa Tay Ninh CA (test)/C=VN",
                    "-keyout", str(tmp_path / "k.pem"), "-out", str(pol / "hospital-ca.pem")],
                   check=True, capture_output=True)
    fp = parse_certificates((pol / "hospital-ca.pem").read_bytes())[0].sha256
    (pol / "trust.yaml").write_text(f"""\
kind: trust
version: "h-1"
legal_basis: quy chế
anchors:
  - id: bv-tay-ninh-ca
    name: Bệnh viện Đa khoa Tây Ninh CA (test)
    sha256: {fp}
    list: hospital
    pem: hospital-ca.pem
  - id: vn-mic-national-root-ca-sha1
    name: MIC National Root CA (enabled on purpose for old signatures)
    sha256: {MIC_SHA1}
    enabled: true
""", encoding="utf-8")
    ps = load_policies(pol)
    assert len(ps.trust.anchors) == len(defaults.trust.anchors) + 1
    assert ps.trust.accepts(MIC_SHA1) and ps.trust.accepts(G2)
    installed = ps.trust.installed(tmp_path / "empty-store")
    assert [a.id for a, _c in installed] == ["bv-tay-ninh-ca"]
    (pol / "trust.yaml").write_text((pol / "trust.yaml").read_text().replace(fp, "ab" * 32))
    with pytest.raises(PolicyError) as e:
        load_policies(pol)
    assert e.value.details[0]["line"] == 9
    assert "does not match sha256" in e.value.details[0]["message_en"]
    # a fingerprint already listed under another id is refused
    text = (pol / "trust.yaml").read_text().replace("ab" * 32, G2)
    (pol / "trust.yaml").write_text(text.replace("    pem: hospital-ca.pem\n", ""))
    with pytest.raises(PolicyError) as e:
        load_policies(pol)
    assert any("already listed in the defaults as 'vn-national-root-ca-g2'" in d["message_en"]
               for d in e.value.details)


def test_cli_trust_update_and_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from api.cli import main

    store = tmp_path / "store"
    assert main(["--lang", "en", "trust", "update", "--dir", str(SHARED),
                 "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "installed  vn-national-root-ca-g2" in out and "skipped" in out
    assert main(["trust", "list", "--json", "--store", str(store)]) == 0
    import json

    listing = json.loads(capsys.readouterr().out)
    by_id = {a["id"]: a for a in listing["anchors"]}
    assert by_id["vn-national-root-ca-g2"]["installed"] is True
    assert by_id["vn-mic-national-root-ca-sha1"]["installed"] is False
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    assert main(["trust", "update", "--dir", str(bad), "--store", str(tmp_path / "s2")]) == 1
