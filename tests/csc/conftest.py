"""CSC service fixtures: hsba over the embedded default (SQLite, software keys, the
development PKI) with the demo hospital seeded, served by uvicorn on a free loopback
port (real HTTP), and a one-page PDF to sign."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
import pytest
from fastapi import FastAPI

from api.app import create_app
from api.middleware import ApiLimits
from core.settings import Settings
from tests.loopback import LoopbackServer, free_port  # noqa: F401 - used by the CSC tests
from workflow.seeding import DemoLogin, seed_demo
from workflow.services import Services


def csc_app(settings: Settings, services: Services) -> FastAPI:
    """The app, its CSC service with the OTP single-use check OFF: these shared
    environments authorise the same credential many times within one 30 s TOTP step.
    ``test_csc_otp_replay.py`` runs the default (check on) service."""
    from api.csc.service import CscService

    app = create_app(settings, services=services,
                     limits=ApiLimits(max_upload_bytes=2 * 1024 * 1024, rate_per_s=10000,
                                      burst=50000))
    app.state.csc = CscService(services, otp_replay_check=False)
    if not any(getattr(r, "path", "").startswith("/csc/") for r in app.routes):
        from api.csc import router  # until api/app.py mounts it

        app.include_router(router)
    return app


@dataclass
class CscEnv:
    settings: Settings
    services: Services
    url: str
    app: FastAPI
    logins: dict[str, DemoLogin]

    @property
    def csc(self) -> Any:
        from api.csc.routes import CscService

        svc = getattr(self.app.state, "csc", None)
        if svc is None:
            svc = self.app.state.csc = CscService(self.services)
        return svc

    def token(self, role: str = "clinician") -> str:
        """A bearer token from ``/csc/v2/auth/login`` (HTTP Basic + the TOTP)."""
        import httpx

        login = self.logins[role]
        r = httpx.post(f"{self.url}/csc/v2/auth/login", auth=(login.username, login.secret),
                       json={"OTP": self.otp(role)})
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    def otp(self, role: str = "clinician") -> str:
        secret = self.logins[role].totp_secret
        assert secret
        return pyotp.TOTP(secret).now()


@pytest.fixture(scope="session")
def csc_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CscEnv]:
    data_dir: Path = tmp_path_factory.mktemp("hsba-csc")
    settings = Settings(env="test", data_dir=data_dir, hospital_code="70001", database_url="",
                        store="fs", keystore="software", pki="dev", tsa_urls=[])
    services = Services.from_settings(settings)
    logins = {x.role: x for x in seed_demo(services)}
    app = csc_app(settings, services)
    with LoopbackServer(app, lifespan="on") as server:
        yield CscEnv(settings, services, server.url, app, logins)
    services.close()


@pytest.fixture(scope="session")
def one_page_pdf() -> bytes:
    from tests.pdfs import one_page_pdf

    return one_page_pdf()


_HERE = str(Path(__file__).resolve().parent)
if _HERE not in __import__("sys").path:
    __import__("sys").path.insert(0, _HERE)  # csc_helpers


@pytest.fixture(scope="module")
def hsm_csc_env(test_services: Any, tmp_path_factory: pytest.TempPathFactory,
                ) -> Iterator[CscEnv]:
    """The CSC service over the real SoftHSM2 token: practitioner keys generated ON the
    token (RSA for the clinician and the nurse, ECDSA P-256 for the head of department),
    certified by this run's development PKI; every object added is removed afterwards."""
    import uuid

    from pkcs11 import Attribute

    from hsm.enrolment import enroll, install_certificate
    from hsm.subjects import OrganisationSubject, PractitionerSubject

    data_dir: Path = tmp_path_factory.mktemp("hsba-csc-hsm")
    settings = Settings(env="test", data_dir=data_dir, hospital_code="70001", database_url="",
                        store="fs", keystore="pkcs11", pki="dev", tsa_urls=[],
                        pkcs11_module=test_services.pkcs11_module,
                        pkcs11_token_label=test_services.pkcs11_token_label,
                        pkcs11_user_pin=test_services.pkcs11_user_pin)
    services = Services.from_settings(settings)
    ks, pki = services.keystore, services.pki

    def labels(pooled: Any) -> set[str]:
        return {str(o[Attribute.LABEL]) for o in pooled.session.get_objects({})}
    before = ks.pool.run(labels, what="snapshot")
    prefix = f"t-csc-{uuid.uuid4().hex[:6]}"
    key_ids: dict[str, str] = {}
    for username, algorithm in (("bs.an", "rsa2048"), ("bs.binh", "ecdsa-p256"),
                                ("dd.cuc", "rsa2048")):
        subject = PractitionerSubject(name=username, title="Bác sĩ", facility="BV Demo",
                                      practitioner_id=f"{prefix}-{username}")
        req = enroll(ks, f"{prefix}-{username}", subject, algorithm,
                     key_id=f"{prefix}-{username.replace('.', '-')}")
        install_certificate(ks, req.key_id, pki.issue_practitioner(req.csr_pem), pki.chain())
        key_ids[username] = req.key_id
    seal = enroll(ks, f"{prefix}-seal", OrganisationSubject(
        organisation="BV Demo", hospital_code="70001", province="Tây Ninh"), "rsa2048",
        key_id=f"{prefix}-seal")
    install_certificate(ks, seal.key_id, pki.issue_organisation_seal(seal.csr_pem), pki.chain())
    key_ids["seal"] = seal.key_id
    try:
        logins = {x.role: x for x in seed_demo(services, key_ids=key_ids)}
        app = csc_app(settings, services)
        with LoopbackServer(app, lifespan="on") as server:
            yield CscEnv(settings, services, server.url, app, logins)
    finally:
        def cleanup(pooled: Any) -> None:
            for obj in list(pooled.session.get_objects({})):
                if str(obj[Attribute.LABEL]) not in before:
                    obj.destroy()
        ks.pool.run(cleanup, what="test cleanup")
        services.close()
