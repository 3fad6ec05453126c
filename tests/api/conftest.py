"""API test fixtures: an app over the embedded default (SQLite, filesystem
WORM store, software keys, development PKI) in a temporary data directory,
with the demo hospital seeded and a second hospital for tenancy tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.middleware import ApiLimits
from core.settings import Settings
from workflow.seeding import DemoLogin, seed_demo
from workflow.services import Services

OTHER_TENANT = "79002"


@dataclass
class ApiEnv:
    settings: Settings
    services: Services
    client: TestClient
    logins: dict[str, DemoLogin]
    """By role, first tenant."""
    other_logins: dict[str, DemoLogin]
    """By role, second tenant."""

    def token(self, role: str, *, other: bool = False) -> str:
        login = (self.other_logins if other else self.logins)[role]
        return login_token(self.client, login)

    def headers(self, role: str, *, other: bool = False) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, other=other)}"}


def login_token(client: TestClient, login: DemoLogin) -> str:
    if login.kind == "staff":
        r = client.post("/api/v1/auth/login", json={
            "username": login.username, "password": login.secret,
            "totp": pyotp.TOTP(login.totp_secret).now() if login.totp_secret else ""})
    elif login.kind == "client":
        r = client.post("/api/v1/oauth/token", data={
            "grant_type": "client_credentials", "client_id": login.username,
            "client_secret": login.secret})
    else:
        r = client.post("/api/v1/auth/device", json={
            "device_id": login.username, "device_secret": login.secret})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    return Settings(env="test", data_dir=data_dir, hospital_code="70001",
                    database_url="", store="fs", keystore="software", pki="dev", tsa_urls=[],
                    **overrides)


@pytest.fixture(scope="session")
def api_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    data_dir = tmp_path_factory.mktemp("hsba-api")
    settings = make_settings(data_dir)
    services = Services.from_settings(settings)
    first = seed_demo(services)
    second = seed_demo(services, tenant=OTHER_TENANT)
    app = create_app(settings, services=services,
                     limits=ApiLimits(max_upload_bytes=2 * 1024 * 1024, rate_per_s=1000,
                                      burst=5000))
    with TestClient(app) as client:
        yield ApiEnv(settings, services, client, {x.role: x for x in first},
                     {x.role: x for x in second})
    services.close()
