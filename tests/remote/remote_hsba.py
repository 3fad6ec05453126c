"""hsba on the real test services with the SmartCA-shaped provider DOUBLE configured
(``provider_double.py``): the set-up the workflow and web remote-signing tests share.

A fresh PostgreSQL database, the shared S3 bucket, hsba's dev PKI (the double issues its
certificates from it), ``HSBA_*`` set for the block (every ``Settings`` reads them) and
the demo hospital plus another one seeded; everything is undone on exit.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from provider_double import SP_ID, SP_PASSWORD, ProviderDouble

from tests.loopback import LoopbackServer

OTHER_TENANT = "BV2TEST"


def bearer_headers(base: str, login: Any) -> dict[str, str]:
    """An ``Authorization`` header for a seeded login of the API at ``base``: a staff
    login (password and current TOTP) or a hospital system (client credentials)."""
    import httpx
    import pyotp

    if login.kind == "client":
        r = httpx.post(f"{base}/api/v1/oauth/token", timeout=60, data={
            "grant_type": "client_credentials", "client_id": login.username,
            "client_secret": login.secret})
    else:
        r = httpx.post(f"{base}/api/v1/auth/login", timeout=60, json={
            "username": login.username, "password": login.secret,
            "totp": pyotp.TOTP(login.totp_secret).now()})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@dataclass
class RemoteHsba:
    services: Any
    double: ProviderDouble
    logins: dict[str, Any]
    """Staff logins of the demo hospital, by role."""
    other: dict[str, Any]
    """Staff logins of :data:`OTHER_TENANT`, by role."""


@contextmanager
def remote_hsba(test_services: Any, tmp: Path, *, webhook_secret: str, prefix: str,
                extra_env: dict[str, str] | None = None) -> Iterator[RemoteHsba]:
    from sqlalchemy import create_engine, make_url, text

    from core.settings import get_settings, reset_settings_cache
    from hsm.dev_pki import DevPki
    from workflow.seeding import seed_demo
    from workflow.services import Services

    data_dir = tmp / "var"
    data_dir.mkdir()
    DevPki.load_or_create(data_dir)  # hsba's dev PKI; the double issues from the same one
    double = ProviderDouble(data_dir)
    base = make_url(test_services.pg_url)
    database = prefix + hashlib.sha256(str(tmp).encode()).hexdigest()[:12]
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    with LoopbackServer(double.app) as provider, pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith("HSBA_")]:
            mp.delenv(name)
        for name, value in {
            "HSBA_ENV": "test", "HSBA_DATA_DIR": str(data_dir),
            "HSBA_CONFIG": str(tmp / "none.toml"),
            "HSBA_DATABASE_URL": base.set(database=database).render_as_string(
                hide_password=False),
            "HSBA_STORE": "s3", "HSBA_S3_ENDPOINT": test_services.s3_endpoint,
            "HSBA_S3_ACCESS_KEY": test_services.s3_access_key,
            "HSBA_S3_SECRET_KEY": test_services.s3_secret_key,
            "HSBA_S3_BUCKET": test_services.s3_bucket, "HSBA_S3_SECURE": "false",
            "HSBA_KEYSTORE": "software", "HSBA_PKI": "dev",
            "HSBA_REMOTE_PROVIDER": "smartca", "HSBA_REMOTE_PROVIDER_URL": provider.url,
            "HSBA_REMOTE_SP_ID": SP_ID, "HSBA_REMOTE_SP_SECRET": SP_PASSWORD,
            "HSBA_REMOTE_WEBHOOK": "true", "HSBA_REMOTE_WEBHOOK_SECRET": webhook_secret,
            **(extra_env or {}),
        }.items():
            mp.setenv(name, value)
        reset_settings_cache()
        services = Services.from_settings(get_settings())
        try:
            logins = {x.role: x for x in seed_demo(services) if x.kind == "staff"}
            other = {x.role: x for x in seed_demo(services, tenant=OTHER_TENANT)
                     if x.kind == "staff"}
            yield RemoteHsba(services, double, logins, other)
        finally:
            services.close()
            reset_settings_cache()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            admin.dispose()
