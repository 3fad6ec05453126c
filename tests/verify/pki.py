"""A small certomancer PKI for the verification tests, built in-process.

Keys are generated (EC P-256; RSA-2048 for the TSA) into a temporary directory; certomancer
issues the certificates and CRLs from a YAML written next to them. The
``doctor`` certificate declares a CRL distribution point (so B-LT needs the
CRLs in the DSS); ``nurse`` declares none (B-B/B-T verify without fetching).
The TSA is pyHanko's in-process ``DummyTimeStamper`` with the PKI's TSA key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from asn1crypto import crl, keys, x509
from certomancer.registry import ArchLabel, CertLabel, CertomancerConfig, KeyLabel, ServiceLabel
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

_YAML = """
external-url-prefix: "http://pki.hsba.test"
keysets:
  verify:
    path-prefix: keys
    keys:
      root: {path: root.key.pem}
      interm: {path: interm.key.pem}
      doctor: {path: doctor.key.pem}
      nurse: {path: nurse.key.pem}
      tsa: {path: tsa.key.pem}
pki-architectures:
  hsba-verify:
    keyset: verify
    entity-defaults: {country-name: VN, organization-name: Benh vien thu nghiem}
    entities:
      root: {common-name: HSBA Test Root CA}
      interm: {common-name: HSBA Test Issuing CA}
      doctor: {common-name: Bac si Nguyen Van A, title: doctor}
      nurse: {common-name: Dieu duong Tran Thi B}
      tsa: {common-name: HSBA Test TSA}
    certs:
      root:
        subject: root
        issuer: root
        serial: 4001
        validity: {valid-from: "2024-01-01T00:00:00+0000", valid-to: "2040-01-01T00:00:00+0000"}
        extensions:
          - {id: basic_constraints, critical: true, value: {ca: true}}
          - id: key_usage
            critical: true
            smart-value: {schema: key-usage, params: [digital_signature, key_cert_sign, crl_sign]}
      interm:
        subject: interm
        issuer: root
        serial: 4002
        validity: {valid-from: "2024-01-01T00:00:00+0000", valid-to: "2039-01-01T00:00:00+0000"}
        extensions:
          - {id: basic_constraints, critical: true, value: {ca: true, path_len_constraint: 0}}
          - id: key_usage
            critical: true
            smart-value: {schema: key-usage, params: [digital_signature, key_cert_sign, crl_sign]}
          - id: crl_distribution_points
            smart-value: {schema: crl-dist-url, params: {crl-repo-names: [root]}}
      doctor:
        subject: doctor
        issuer: interm
        serial: 4003
        validity: {valid-from: "2024-01-01T00:00:00+0000", valid-to: "2038-01-01T00:00:00+0000"}
        extensions:
          - id: key_usage
            critical: true
            smart-value: {schema: key-usage, params: [digital_signature, non_repudiation]}
          - id: crl_distribution_points
            smart-value: {schema: crl-dist-url, params: {crl-repo-names: [interm]}}
      nurse:
        subject: nurse
        issuer: root
        serial: 4004
        validity: {valid-from: "2024-01-01T00:00:00+0000", valid-to: "2038-01-01T00:00:00+0000"}
        extensions:
          - id: key_usage
            critical: true
            smart-value: {schema: key-usage, params: [digital_signature, non_repudiation]}
      tsa:
        subject: tsa
        issuer: root
        serial: 4005
        validity: {valid-from: "2024-01-01T00:00:00+0000", valid-to: "2039-01-01T00:00:00+0000"}
        extensions:
          - id: key_usage
            critical: true
            smart-value: {schema: key-usage, params: [digital_signature]}
          - id: extended_key_usage
            critical: true
            value: [time_stamping]
    services:
      crl-repo:
        root: {for-issuer: root, signing-key: root, simulated-update-schedule: "P90D"}
        interm: {for-issuer: interm, signing-key: interm, simulated-update-schedule: "P90D"}
"""


@dataclass(frozen=True)
class TestPki:
    __test__ = False

    root: x509.Certificate
    interm: x509.Certificate
    certs: dict[str, x509.Certificate]
    keys: dict[str, keys.PrivateKeyInfo]
    crls: tuple[crl.CertificateList, ...]


def build_pki(directory: Path) -> TestPki:
    keydir = directory / "keys"
    keydir.mkdir(parents=True, exist_ok=True)
    for label in ("root", "interm", "doctor", "nurse", "tsa"):
        # pyHanko's DummyTimeStamper signs with RSA only
        key = (rsa.generate_private_key(65537, 2048) if label == "tsa"
               else ec.generate_private_key(ec.SECP256R1()))
        (keydir / f"{label}.key.pem").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
    cfg_path = directory / "pki.yml"
    cfg_path.write_text(_YAML)
    arch = CertomancerConfig.from_file(str(cfg_path)).get_pki_arch(ArchLabel("hsba-verify"))
    certs = {lbl: arch.get_cert(CertLabel(lbl)) for lbl in ("root", "interm", "doctor", "nurse", "tsa")}
    ks = {lbl: arch.key_set.get_private_key(KeyLabel(lbl)) for lbl in ("doctor", "nurse", "tsa")}
    now = datetime.now(UTC)
    crls = tuple(arch.service_registry.get_crl(ServiceLabel(s), at_time=now) for s in ("root", "interm"))
    return TestPki(certs["root"], certs["interm"], certs, ks, crls)
