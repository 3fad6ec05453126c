"""The hsba TEST PKI in-process: certomancer's view of ``tests/pki/pki.yml``.

TEST ONLY. Tests get certificates, private keys (software identities only),
CRLs, OCSP responders and a TSA here without HTTP; the same PKI is served over
HTTP by ``scripts/test-services.sh`` (``test_services.pki_url``). CA keys are RSA
(deterministic signatures), so the certificates are byte-identical on both sides.

Token identities (``token-*``) exist only once ``scripts/test-services.sh start``
has generated their keys on the SoftHSM2 token; before that they are left out.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
PKI_CONFIG = REPO_ROOT / "tests" / "pki" / "pki.yml"
ARCH = "hsba-test"


@dataclass(frozen=True)
class PkiLabels:
    """Certificate labels of the test PKI (certomancer labels; for the token
    identities, ``token_*`` below are the PKCS#11 key/cert labels on the token
    and the certomancer label is ``token-<label>``)."""

    root: str = "root"
    interm: str = "interm"
    ocsp_responder: str = "interm-ocsp"
    tsa: str = "tsa"
    doctor_rsa: str = "doctor-hoa"
    doctor_ec: str = "doctor-minh-ec"
    doctor_revoked: str = "doctor-revoked"
    doctor_expired: str = "doctor-expired"
    doctor_not_yet_valid: str = "doctor-future"
    doctor_weak_rsa1024: str = "doctor-weak"
    nurse: str = "nurse-mai"
    hospital_seal: str = "hospital-seal"
    patient: str = "patient-thu"
    other_hospital_ca: str = "other-hospital-ca"
    other_hospital_doctor: str = "other-hospital-doctor"
    token_doctor_rsa: str = "doctor-an"
    token_doctor_ec: str = "doctor-binh-ec"
    token_nurse: str = "nurse-chi"
    token_seal: str = "seal"

    @property
    def token_keys(self) -> tuple[str, ...]:
        return (self.token_doctor_rsa, self.token_doctor_ec, self.token_nurse, self.token_seal)


LABELS = PkiLabels()


class TestPki:
    """The architecture ``hsba-test``, loaded once per process (see :func:`load_test_pki`)."""

    __test__ = False  # not a pytest test class

    def __init__(self, arch: Any, has_token_identities: bool) -> None:
        self.arch = arch
        """certomancer ``PKIArchitecture``."""
        self.has_token_identities = has_token_identities
        self.labels = LABELS

    # ---- certificates and keys ----------------------------------------------
    def cert(self, label: str) -> Any:
        """asn1crypto ``x509.Certificate``; for a token key pass its PKCS#11 label or ``token-...``."""
        from certomancer.registry import CertLabel

        if label in LABELS.token_keys:
            label = f"token-{label}"
        return self.arch.get_cert(CertLabel(label))

    def private_key(self, label: str) -> Any:
        """asn1crypto ``keys.PrivateKeyInfo`` of a software identity (never a token key)."""
        from certomancer.registry import CertLabel

        spec = self.arch.get_cert_spec(CertLabel(label))
        return self.arch.key_set.get_private_key(spec.subject_key)

    def chain(self, label: str) -> list[Any]:
        """Issuer certificates of ``label`` up to and including its root."""
        from certomancer.registry import CertLabel

        if label in LABELS.token_keys:
            label = f"token-{label}"
        return [self.arch.get_cert(lbl) for lbl in self.arch.get_chain(CertLabel(label))]

    @property
    def root(self) -> Any:
        return self.cert(LABELS.root)

    @property
    def interm(self) -> Any:
        return self.cert(LABELS.interm)

    def pem(self, label: str) -> bytes:
        from asn1crypto import pem

        return pem.armor("CERTIFICATE", self.cert(label).dump())

    def write_pem(self, label: str, path: Path) -> Path:
        path.write_bytes(self.pem(label))
        return path

    def simple_signer(self, label: str) -> Any:
        """A pyHanko ``SimpleSigner`` for a software identity, with its chain."""
        from pyhanko.sign.signers import SimpleSigner
        from pyhanko_certvalidator.registry import SimpleCertificateStore

        return SimpleSigner(
            signing_cert=self.cert(label),
            signing_key=self.private_key(label),
            cert_registry=SimpleCertificateStore.from_certs(self.chain(label)),
        )

    # ---- services, in-process -------------------------------------------------
    def crl(self, repo: str = "interm", at: datetime | None = None) -> Any:
        """asn1crypto ``crl.CertificateList`` from CRL repository ``repo`` (root, interm, other-hospital)."""
        from certomancer.registry import ServiceLabel

        return self.arch.service_registry.get_crl(ServiceLabel(repo), at_time=at)

    def ocsp_responder(self, at: datetime | None = None) -> Any:
        """certomancer ``SimpleOCSPResponder`` for certificates issued by ``interm``."""
        from certomancer.registry import ServiceLabel

        return self.arch.service_registry.summon_responder(ServiceLabel("interm"), at_time=at)

    def timestamper(self, at: datetime | None = None) -> Any:
        """certomancer ``TimeStamper`` (in-process TSA; pyHanko's ``DummyTimeStamper`` also fits)."""
        from certomancer.registry import ServiceLabel

        return self.arch.service_registry.summon_timestamper(ServiceLabel("tsa"), at_time=at)


def _config_without_missing_token_keys(raw: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    cfg = copy.deepcopy(raw)
    keys = cfg["keysets"][ARCH]["keys"]
    missing = {
        label for label, spec in keys.items()
        if spec.get("public-only") and not (REPO_ROOT / spec["path"]).is_file()
    }
    if not missing:
        return cfg, True
    for label in missing:
        del keys[label]
    arch = cfg["pki-architectures"][ARCH]
    for label in list(arch["certs"]):
        spec = arch["certs"][label]
        if spec.get("subject-key", spec.get("subject", label)) in missing:
            del arch["certs"][label]
    for label in missing:
        arch["entities"].pop(label, None)
    return cfg, False


def load_test_pki() -> TestPki:
    """certomancer's in-process view of the test PKI (cached; reloaded once the
    token identities appear, i.e. after ``scripts/test-services.sh start``)."""
    stamp = REPO_ROOT / ".test-services" / "pki-token" / "stamp"
    return _load(stamp.stat().st_mtime_ns if stamp.is_file() else 0)


@lru_cache(maxsize=2)
def _load(token_stamp: int) -> TestPki:
    from certomancer.registry import ArchLabel, CertomancerConfig

    raw = yaml.safe_load(PKI_CONFIG.read_text(encoding="utf-8"))
    cfg_dict, complete = _config_without_missing_token_keys(raw)
    cfg = CertomancerConfig(cfg_dict, key_search_dir=str(REPO_ROOT), lazy_load_keys=True)
    return TestPki(cfg.get_pki_arch(ArchLabel(ARCH)), has_token_identities=complete)
