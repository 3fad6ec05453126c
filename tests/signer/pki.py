"""A certomancer test PKI for the signing engine, generated per test session.

Keys are generated into a temporary directory (none committed). The
architecture ``hsba-signer-test`` has a root, an intermediate CA with an OCSP
responder and CRLs, a TSA, and signers: RSA-2048, ECDSA P-256, ECDSA P-384,
a revoked RSA signer, an expired one, one not yet valid, an RSA-1024 (weak)
one, and the hospital's organisation seal. Every certificate has an explicit,
distinct serial (NOTES.md: default serials collide).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ARCH = "hsba-signer-test"

KEYS: dict[str, tuple[str, Any]] = {
    "root": ("rsa", 2048),
    "interm": ("rsa", 2048),
    "ocsp": ("rsa", 2048),
    "tsa": ("rsa", 2048),
    "doctor-rsa": ("rsa", 2048),
    "doctor-ec": ("ec", ec.SECP256R1()),
    "doctor-ec384": ("ec", ec.SECP384R1()),
    "revoked": ("rsa", 2048),
    "expired": ("rsa", 2048),
    "future": ("rsa", 2048),
    "weak": ("rsa", 1024),
    "seal": ("rsa", 2048),
}

SIGNERS = ("doctor-rsa", "doctor-ec", "doctor-ec384", "revoked", "expired", "future",
           "weak", "seal")

_FOREVER = {"valid-from": "2020-01-01T00:00:00+0000", "valid-to": "2060-01-01T00:00:00+0000"}


def _write_key(path: Path, kind: str, param: Any) -> None:
    if kind == "rsa":
        key: Any = rsa.generate_private_key(public_exponent=65537, key_size=param)
    else:
        key = ec.generate_private_key(param)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _ku(*usages: str) -> dict[str, Any]:
    return {"id": "key_usage", "critical": True,
            "smart-value": {"schema": "key-usage", "params": list(usages)}}


def _leaf(serial: int, validity: dict[str, str] | None = None,
          revoked: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "issuer": "interm",
        "serial": serial,
        "validity": validity or _FOREVER,
        "extensions": [
            _ku("digital_signature", "non_repudiation"),
            {"id": "authority_information_access",
             "smart-value": {"schema": "aia-urls",
                             "params": {"ocsp-responder-names": ["interm"]}}},
            {"id": "crl_distribution_points",
             "smart-value": {"schema": "crl-dist-url",
                             "params": {"crl-repo-names": ["interm"]}}},
        ],
    }
    if revoked:
        spec["revocation"] = {"revoked-since": "2024-06-01T00:00:00+0000",
                              "reason": "key_compromise"}
    return spec


def build_config(key_dir: Path, url_prefix: str) -> dict[str, Any]:
    """The certomancer configuration (keys generated into ``key_dir``)."""
    key_dir.mkdir(parents=True, exist_ok=True)
    for label, (kind, param) in KEYS.items():
        path = key_dir / f"{label}.key.pem"
        if not path.exists():
            _write_key(path, kind, param)
    entities = {
        "root": {"common-name": "HSBA Test Root CA"},
        "interm": {"common-name": "HSBA Test Issuing CA"},
        "ocsp": {"common-name": "HSBA Test OCSP Responder"},
        "tsa": {"common-name": "HSBA Test TSA"},
        "doctor-rsa": {"common-name": "Nguyễn Văn An", "title": "Bác sĩ điều trị"},
        "doctor-ec": {"common-name": "Trần Thị Bình", "title": "Bác sĩ điều trị"},
        "doctor-ec384": {"common-name": "Lê Minh Châu", "title": "Trưởng khoa"},
        "revoked": {"common-name": "Phạm Văn Thu Hồi"},
        "expired": {"common-name": "Hoàng Văn Hết Hạn"},
        "future": {"common-name": "Đỗ Thị Chưa Hiệu Lực"},
        "weak": {"common-name": "Vũ Văn Khoá Yếu"},
        "seal": {"common-name": "Bệnh viện Đa khoa Thử nghiệm (con dấu)"},
    }
    certs: dict[str, Any] = {
        "root": {
            "issuer": "root", "serial": 1001, "validity": _FOREVER,
            "extensions": [
                {"id": "basic_constraints", "critical": True, "value": {"ca": True}},
                _ku("digital_signature", "key_cert_sign", "crl_sign"),
            ],
        },
        "interm": {
            "issuer": "root", "serial": 2001, "validity": _FOREVER,
            "extensions": [
                {"id": "basic_constraints", "critical": True,
                 "value": {"ca": True, "path_len_constraint": 0}},
                _ku("digital_signature", "key_cert_sign", "crl_sign"),
                {"id": "crl_distribution_points",
                 "smart-value": {"schema": "crl-dist-url",
                                 "params": {"crl-repo-names": ["root"]}}},
            ],
        },
        "ocsp": {
            "issuer": "interm", "serial": 3001, "validity": _FOREVER,
            "extensions": [
                _ku("digital_signature"),
                {"id": "extended_key_usage", "critical": True, "value": ["ocsp_signing"]},
                {"id": "ocsp_no_check"},
            ],
        },
        "tsa": {
            "issuer": "root", "serial": 2002, "validity": _FOREVER,
            "extensions": [
                _ku("digital_signature"),
                {"id": "extended_key_usage", "critical": True, "value": ["time_stamping"]},
                {"id": "crl_distribution_points",
                 "smart-value": {"schema": "crl-dist-url",
                                 "params": {"crl-repo-names": ["root"]}}},
            ],
        },
        "doctor-rsa": _leaf(3101),
        "doctor-ec": _leaf(3102),
        "doctor-ec384": _leaf(3103),
        "revoked": _leaf(3104, revoked=True),
        "expired": _leaf(3105, {"valid-from": "2020-01-01T00:00:00+0000",
                                "valid-to": "2021-01-01T00:00:00+0000"}),
        "future": _leaf(3106, {"valid-from": "2055-01-01T00:00:00+0000",
                               "valid-to": "2059-01-01T00:00:00+0000"}),
        "weak": _leaf(3107),
        "seal": _leaf(3108),
    }
    return {
        "external-url-prefix": url_prefix,
        "keysets": {
            ARCH: {
                "path-prefix": str(key_dir),
                "keys": {label: {"path": f"{label}.key.pem"} for label in KEYS},
            }
        },
        "pki-architectures": {
            ARCH: {
                "keyset": ARCH,
                "entity-defaults": {"country-name": "VN",
                                    "organization-name": "HSBA Test Hospital"},
                "entities": entities,
                "certs": certs,
                "services": {
                    "ocsp": {"interm": {"for-issuer": "interm", "responder-cert": "ocsp",
                                        "signing-key": "ocsp"}},
                    "crl-repo": {
                        "root": {"for-issuer": "root", "signing-key": "root",
                                 "simulated-update-schedule": "P90D"},
                        "interm": {"for-issuer": "interm", "signing-key": "interm",
                                   "simulated-update-schedule": "P7D"},
                    },
                    "time-stamping": {"tsa": {"signing-key": "tsa", "signing-cert": "tsa"}},
                },
            }
        },
    }


def write_config(directory: Path, url_prefix: str) -> Path:
    """Write the YAML (for ``certomancer animate``) and return its path."""
    cfg = build_config(directory / "keys", url_prefix)
    path = directory / "pki.yml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path
