"""Key custody: key stores (PKCS#11 HSM, development software keys), enrolment,
and the development PKI.

- :func:`open_keystore` picks the store from the settings
  (``HSBA_KEYSTORE=software|pkcs11``).
- :func:`seed_demo_keys` gives the demo hospital its practitioners' keys and
  the organisation seal, certified by the development PKI (idempotent).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.settings import Settings
    from hsm.dev_pki import DevPki
    from hsm.keystore import KeyInfo, KeyStore
    from hsm.subjects import OrganisationSubject, PractitionerSubject

__all__ = ["DemoKey", "demo_keys", "open_keystore", "seed_demo_keys"]

log = logging.getLogger(__name__)


def open_keystore(settings: Settings) -> KeyStore:
    """The key store the settings name: ``pkcs11`` (an HSM) or ``software`` (development,
    under ``{data_dir}/keys``; refused in production)."""
    if settings.keystore == "pkcs11":
        from hsm.pkcs11 import Pkcs11Keystore

        return Pkcs11Keystore(settings.pkcs11_module, settings.pkcs11_token_label,
                              settings.pkcs11_user_pin.get_secret_value())
    from hsm.software import DevSoftwareKeystore

    return DevSoftwareKeystore(settings.data_dir)


@dataclass(frozen=True)
class DemoKey:
    """One key the demo hospital needs."""

    key_id: str
    subject: PractitionerSubject | OrganisationSubject
    algorithm: str = "rsa2048"


def demo_keys(hospital: str = "Trung tâm Y tế (demo)", province: str = "Tây Ninh",
              hospital_code: str = "70001") -> tuple[DemoKey, ...]:
    """Three practitioners (RSA, ECDSA, RSA) and the hospital's organisation seal."""
    from hsm.subjects import OrganisationSubject, PractitionerSubject

    def person(pid: str, name: str, title: str, department: str) -> PractitionerSubject:
        return PractitionerSubject(name=name, title=title, facility=hospital,
                                   department=department, province=province,
                                   practitioner_id=pid)
    return (
        DemoKey("bs-an", person("bs-an", "Nguyễn Văn An", "Bác sĩ", "Khoa Ngoại")),
        DemoKey("bs-binh", person("bs-binh", "Trần Thị Bình", "Bác sĩ", "Khoa Nội"),
                "ecdsa-p256"),
        DemoKey("dd-chi", person("dd-chi", "Lê Thị Chi", "Điều dưỡng", "Khoa Ngoại")),
        DemoKey("seal", OrganisationSubject(organisation=hospital, hospital_code=hospital_code,
                                            province=province)),
    )


def seed_demo_keys(keystore: KeyStore, pki: DevPki,
                   practitioners: Sequence[DemoKey] | None = None) -> list[KeyInfo]:
    """Make sure every demo key exists (generated in the store) with a certificate from
    the development PKI. Keys already certified are left alone."""
    from hsm.enrolment import enroll, install_certificate
    from hsm.subjects import OrganisationSubject

    wanted = list(practitioners) if practitioners is not None else list(demo_keys())
    existing = {k.key_id: k for k in keystore.list_keys()}
    out: list[KeyInfo] = []
    for demo in wanted:
        info = existing.get(demo.key_id)
        if info is not None and info.status == "active":
            out.append(info)
            continue
        if info is None:
            req = enroll(keystore, demo.key_id, demo.subject, demo.algorithm, key_id=demo.key_id)
            request: object = req.csr_pem
        else:
            request = keystore.public_key(demo.key_id)
        if isinstance(demo.subject, OrganisationSubject):
            cert = pki.issue_organisation_seal(request, demo.subject)
        else:
            cert = pki.issue_practitioner(request, demo.subject)
        out.append(install_certificate(keystore, demo.key_id, cert, pki.chain()))
        log.info("demo key %s ready", demo.key_id)
    return out
