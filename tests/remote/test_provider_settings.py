"""The remote-signing provider's settings (``HSBA_REMOTE_*``): production refuses a
provider without TLS or a webhook without a secret; ``hsba config show`` masks the
secrets; a wrong configuration stops start-up; on the embedded default the lifespan
installs the provider (request routes, polling on the in-process scheduler) and,
with the webhook off, the callback route stays closed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.remote.wiring import POLL_JOB, poll_cron
from core.errors import ConfigurationError
from core.settings import Settings

HSBA = [sys.executable, "-c", "import sys; from api.cli import main; sys.exit(main())"]
REPO = Path(__file__).resolve().parents[2]
SECRET = "test-only-webhook-secret-0123456789"


def _production(**remote: object) -> Settings:
    """Every development adapter replaced, so only remote-signing problems remain."""
    return Settings(env="production", keystore="pkcs11", pki="external",
                    tsa_urls=["https://tsa.example.vn"], store="s3",
                    database_url="postgresql+psycopg://hsba@db/hsba",
                    secret_key="a-production-secret-of-enough-length", **remote)  # type: ignore[arg-type]


def test_production_refuses_a_provider_without_tls_or_webhook_secret() -> None:
    _production().check_production()  # no provider: nothing to refuse
    good = {"remote_provider": "smartca", "remote_provider_url": "https://gw.example.vn/sp769",
            "remote_sp_id": "sp", "remote_sp_secret": "sp-secret",
            "remote_webhook_secret": SECRET}
    _production(**good).check_production()
    with pytest.raises(ConfigurationError) as e:
        _production(**{**good, "remote_provider_url": "http://gw.example.vn/sp769"}) \
            .check_production()
    assert e.value.details == [
        "remote signing provider without TLS (HSBA_REMOTE_PROVIDER_URL must be https://)"]
    with pytest.raises(ConfigurationError) as e:
        _production(**{**good, "remote_webhook_secret": ""}).check_production()
    assert len(e.value.details) == 1 and "HSBA_REMOTE_WEBHOOK_SECRET" in e.value.details[0]
    assert "unsafe settings" in e.value.message_en
    _production(**{**good, "remote_webhook_secret": "", "remote_webhook": False}) \
        .check_production()  # polling only: no secret needed
    with pytest.raises(ConfigurationError) as e:
        _production(**{**good, "remote_sp_secret": ""}).check_production()
    assert "HSBA_REMOTE_SP_SECRET" in e.value.details[0]
    # development accepts plain HTTP (a provider double, a UAT gateway on a test network)
    Settings(env="development", **{**good, "remote_provider_url": "http://127.0.0.1:1"}) \
        .check_production()
    assert Settings(env="development", **{**good, "remote_provider_url": "http://x"}) \
        .remote_signing_problems() == []


def test_config_show_masks_the_provider_secrets(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HSBA_")}
    env.update(HSBA_DATA_DIR=str(tmp_path / "var"), HSBA_CONFIG=str(tmp_path / "none"),
               HSBA_REMOTE_PROVIDER="mysign", HSBA_REMOTE_PROVIDER_URL="https://gw.example",
               HSBA_REMOTE_SP_ID="integrator", HSBA_REMOTE_SP_SECRET="sp-secret-value",
               HSBA_REMOTE_WEBHOOK_SECRET=SECRET)
    done = subprocess.run([*HSBA, "config", "show"], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=True)
    shown = json.loads(done.stdout)
    assert shown["remote_provider"] == "mysign" and shown["remote_sp_id"] == "integrator"
    assert shown["remote_sp_secret"] == "********"
    assert shown["remote_webhook_secret"] == "********"
    assert "sp-secret-value" not in done.stdout + done.stderr
    assert SECRET not in done.stdout + done.stderr


def test_a_wrong_provider_configuration_stops_serve(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HSBA_")}
    env.update(HSBA_DATA_DIR=str(tmp_path / "var"), HSBA_CONFIG=str(tmp_path / "none"),
               HSBA_REMOTE_PROVIDER="smartca", HSBA_REMOTE_SP_ID="sp",
               HSBA_REMOTE_SP_SECRET="sp-secret-value", HSBA_REMOTE_WEBHOOK_SECRET="short")
    done = subprocess.run([*HSBA, "--lang", "en", "serve", "--port", "1"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "HSBA_REMOTE_PROVIDER_URL" in done.stderr and "16 bytes" in done.stderr
    assert "Traceback" not in done.stderr and "sp-secret-value" not in done.stderr


def test_embedded_default_installs_the_provider_at_start_up(tmp_path: Path) -> None:
    """Webhook off: the route answers 404, the request routes and the in-process polling
    job are there. (No provider call is made: start-up does not contact it.)"""
    from api.app import create_app

    settings = Settings(env="test", data_dir=tmp_path / "var", remote_provider="smartca",
                        remote_provider_url="http://127.0.0.1:9", remote_sp_id="sp",
                        remote_sp_secret="sp-secret", remote_webhook=False,
                        remote_poll_every_s=5, remote_poll_older_than_s=7)
    app = create_app(settings)
    with TestClient(app) as client:
        services = app.state.services
        jobs = dict(services.scheduler._jobs)
        assert jobs[POLL_JOB].every_s == 5 and jobs[POLL_JOB].older_than_s == 7
        assert jobs[POLL_JOB].signing is app.state.remote_signing
        assert not hasattr(app.state, "provider_webhook")
        r = client.post("/api/v1/remote-signing/callbacks/smartca", content=b"{}",
                        headers={"X-Signature": "sha256=00"})
        assert r.status_code == 404 and r.json()["code"] == "remote.callbacks_not_configured"
        assert client.get(f"/api/v1/remote-signing/requests/{'0' * 32}").status_code == 401


def test_without_a_provider_nothing_is_installed(tmp_path: Path) -> None:
    from api.app import create_app

    app = create_app(Settings(env="test", data_dir=tmp_path / "var"))
    with TestClient(app):
        assert getattr(app.state, "remote_signing", None) is None
        assert POLL_JOB not in dict(app.state.services.scheduler._jobs)


def test_poll_cron() -> None:
    assert poll_cron(1) == "* * * * * */1"
    assert poll_cron(30) == "* * * * * */30"
    assert poll_cron(60) == "* * * * *"
    assert poll_cron(600) == "*/10 * * * *"


def test_worker_once_polls_the_provider(tmp_path: Path, one_pdf: bytes) -> None:
    """``hsba worker --once`` (cron use) makes one polling pass whatever the age setting:
    a confirmation waiting at the SmartCA-shaped DOUBLE is settled, in the file store of
    the embedded default."""
    import asyncio

    from provider_double import SP_ID, SP_PASSWORD, USER_ID, LoopbackServer, ProviderDouble

    from hsm.remote.async_provider import (
        AppConfirmedSigning,
        DocumentToSign,
        FilePendingStore,
        SmartCaClient,
    )

    double = ProviderDouble(tmp_path / "double-pki")
    with LoopbackServer(double.app) as server:
        store = FilePendingStore(tmp_path / "var" / "remote-pending")
        signing = AppConfirmedSigning(SmartCaClient(server.url, SP_ID, SP_PASSWORD), store)
        tx = asyncio.run(signing.request(USER_ID, [DocumentToSign("d", one_pdf, "BacSi")]))
        double.confirm(tx.tran_code)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HSBA_")}
        env.update(HSBA_DATA_DIR=str(tmp_path / "var"), HSBA_CONFIG=str(tmp_path / "none"),
                   HSBA_REMOTE_PROVIDER="smartca", HSBA_REMOTE_PROVIDER_URL=server.url,
                   HSBA_REMOTE_SP_ID=SP_ID, HSBA_REMOTE_SP_SECRET=SP_PASSWORD,
                   HSBA_REMOTE_WEBHOOK="false", HSBA_REMOTE_POLL_OLDER_THAN_S="3600")
        done = subprocess.run([*HSBA, "worker", "--once"], env=env, cwd=REPO,
                              capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    polled = [r for r in json.loads(done.stdout) if r.get("job") == POLL_JOB]
    assert polled == [{"job": POLL_JOB, "polled": 1, "settled": [tx.transaction_id],
                       "repaired": []}]
    assert store.load(tx.transaction_id).status == "completed"  # type: ignore[union-attr]


def test_mysign_is_polled_only() -> None:
    """The MySign-shaped adapter polls (``async=1``): no webhook secret asked for."""
    s = _production(remote_provider="mysign", remote_provider_url="https://ras.example.vn",
                    remote_sp_id="client", remote_sp_secret="client-secret")
    assert s.remote_webhook and not s.remote_webhook_on
    s.check_production()
