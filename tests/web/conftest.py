"""Browser-test fixtures: the real service (uvicorn on a free loopback port,
embedded default: SQLite, filesystem WORM store, software keys, development
PKI, in a temporary data directory) with the demo hospital seeded, and
headless Chromium from Debian driven by Playwright (no browser download).

Screenshots of every step go to ``artifacts/web/`` (gitignored)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
import pytest
import uvicorn

from api.app import create_app
from api.middleware import ApiLimits
from core.settings import Settings
from tests.loopback import free_port as _free_port
from workflow.access import ActorRef
from workflow.demo import demo_form_data
from workflow.seeding import DemoLogin, seed_demo
from workflow.services import Services

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "web"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@dataclass
class WebEnv:
    base_url: str
    services: Services
    logins: dict[str, DemoLogin]

    def actor(self, role: str) -> ActorRef:
        login = self.logins[role]
        kind = {"kiosk": "device", "integration": "client"}.get(role, "staff")
        return ActorRef.of(self.services.accounts.find(kind, login.username))

    def create_consents(self, n: int) -> list[str]:
        """``n`` consent forms created by the demo doctor, awaiting his signature."""
        doctor = self.actor("clinician")
        ids = []
        for _ in range(n):
            view = self.services.documents.create(
                doctor, form_code="consent_surgery", data=demo_form_data(doctor.tenant),
                care_team=[doctor.practitioner_id], department=doctor.department)
            ids.append(view.id)
        return ids

    def sign_as_doctor(self, document_id: str) -> Any:
        """Signs on a worker thread: Playwright's sync API keeps an event loop running
        on the test thread, and the workflow runs its signer with ``asyncio.run``."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1) as pool:
            return pool.submit(self._sign_as_doctor, document_id).result()

    def _sign_as_doctor(self, document_id: str) -> Any:
        doctor = self.actor("clinician")
        view = self.services.documents.get(doctor, document_id, audit=False)
        return self.services.documents.sign(doctor, document_id,
                                            pin=self.logins["clinician"].signing_pin,
                                            expected_sha256=view.sha256)

    def totp(self, role: str) -> str:
        secret = self.logins[role].totp_secret
        assert secret
        return pyotp.TOTP(secret).now()


@pytest.fixture(scope="session")
def web_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebEnv]:
    data_dir = tmp_path_factory.mktemp("hsba-web")
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    settings = Settings(env="test", data_dir=data_dir, hospital_code="70001", database_url="",
                        store="fs", keystore="software", pki="dev", tsa_urls=[],
                        base_url=base_url)
    services = Services.from_settings(settings)
    logins = {x.role: x for x in seed_demo(services)}
    app = create_app(settings, services=services,
                     limits=ApiLimits(max_upload_bytes=10 * 1024 * 1024, rate_per_s=1000,
                                      burst=5000))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, name="hsba-web-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield WebEnv(base_url, services, logins)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        services.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Per module: sync Playwright keeps an event loop running in the main thread while
    it is open, which would break later tests' ``asyncio.run``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                              args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any, web_env: WebEnv) -> Iterator[Any]:
    context = browser.new_context(base_url=web_env.base_url, locale="vi-VN",
                                  viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    try:
        yield pg
    finally:
        context.close()


@pytest.fixture
def tablet(browser: Any, web_env: WebEnv) -> Iterator[Any]:
    """A bedside tablet: 800x1280, touch."""
    context = browser.new_context(base_url=web_env.base_url, locale="vi-VN",
                                  viewport={"width": 800, "height": 1280}, has_touch=True)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    try:
        yield pg
    finally:
        context.close()


class Shots:
    """Numbered full-page screenshots of one flow."""

    def __init__(self, flow: str) -> None:
        self.dir = ARTIFACTS
        self.dir.mkdir(parents=True, exist_ok=True)
        self.flow = flow
        self.n = 0

    def __call__(self, page: Any, step: str) -> Path:
        self.n += 1
        path = self.dir / f"{self.flow}-{self.n:02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path
