"""Shared fixtures: the real test services and the test PKI.

- ``test_services`` (session): PostgreSQL, SeaweedFS S3 with Object Lock, the
  SoftHSM2 token and the certomancer PKI over HTTP, started by
  ``scripts/test-services.sh start`` unless they already answer (``make test``
  starts them before pytest and stops them after). Each session gets a fresh
  PostgreSQL database, dropped at the end. Tests using it carry
  ``@pytest.mark.services``.
- ``test_pki`` (session): the same PKI in-process (certomancer), for
  certificates, keys, CRLs, OCSP and TSA without HTTP. Also
  ``tests.pki.testpki.load_test_pki()`` outside fixtures.
- ``tmp_settings``: ``core.settings.Settings`` on a temporary ``data_dir``, the
  embedded default, with every ``HSBA_*`` variable from the outside removed;
  ``get_settings()`` returns the same values while the test runs.
- ``real_services_settings``: the same, on the real-services profile
  (PostgreSQL, S3 Object Lock, PKCS#11 token, HTTP TSA, external PKI).
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.pki.testpki import LABELS, PkiLabels, TestPki, load_test_pki

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVICES_SCRIPT = REPO_ROOT / "scripts" / "test-services.sh"
ENV_FILE = REPO_ROOT / ".test-services" / "env"

MARKERS = {
    "services": "needs the real test services (PostgreSQL, SeaweedFS S3, SoftHSM2, "
    "certomancer animate) started by scripts/test-services.sh",
    "browser": "drives headless Chromium",
    "slow": "takes more than a few seconds",
}


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")


@dataclass(frozen=True)
class TestServices:
    """Where the running test services are. TEST ONLY credentials."""

    __test__ = False

    pg_url: str
    """SQLAlchemy URL (``postgresql+psycopg://``) of a fresh database for this session."""
    pg_admin_url: str
    """SQLAlchemy URL of the maintenance database (to create more throwaway databases)."""
    s3_endpoint: str
    """``127.0.0.1:PORT`` (plain HTTP)."""
    s3_access_key: str
    """The writer identity: Read/Write/List/Tagging and object retention/legal hold, no Admin."""
    s3_secret_key: str
    s3_bucket: str
    """Object Lock bucket (versioned), default COMPLIANCE retention of 1 day."""
    s3_admin_access_key: str
    s3_admin_secret_key: str
    pkcs11_module: str
    pkcs11_token_label: str
    pkcs11_user_pin: str
    pkcs11_so_pin: str
    pkcs11_keys: tuple[str, ...]
    """Labels (= UTF-8 ids) of the key pairs and certificates on the token."""
    pki_url: str
    """certomancer animate base URL; the PKI is under ``{pki_url}/{pki_arch}/``."""
    pki_arch: str
    pki_config: str
    """Path of the certomancer YAML in use (keys relative to ``pki_key_root``)."""
    pki_key_root: str
    tsa_url: str
    ocsp_url: str
    crl_url: str
    softhsm2_conf: str
    pki_labels: PkiLabels = field(default=LABELS)
    env: dict[str, str] = field(default_factory=dict, repr=False)
    """Every line of ``.test-services/env``."""

    @contextmanager
    def token_session(self, *, rw: bool = False) -> Iterator[Any]:
        """A logged-in python-pkcs11 session on the test token.

        PKCS#11 login state is per process and token: when another component of
        this test process (a keystore's session pool) is already logged in, a new
        session shares that login instead of failing with UserAlreadyLoggedIn.
        """
        import pkcs11

        token = pkcs11.lib(self.pkcs11_module).get_token(token_label=self.pkcs11_token_label)
        try:
            session = token.open(rw=rw, user_pin=self.pkcs11_user_pin)
        except pkcs11.exceptions.UserAlreadyLoggedIn:
            session = token.open(rw=rw)
        try:
            yield session
        finally:
            session.close()

    def minio(self, *, admin: bool = False) -> Any:
        """A ``minio.Minio`` client for the writer (or the admin) identity."""
        from minio import Minio

        return Minio(
            self.s3_endpoint,
            access_key=self.s3_admin_access_key if admin else self.s3_access_key,
            secret_key=self.s3_admin_secret_key if admin else self.s3_secret_key,
            secure=False,
        )


def read_env_file(path: Path = ENV_FILE) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            env[key] = value
    return env


def _services_answer() -> bool:
    if not ENV_FILE.is_file():
        return False
    done = subprocess.run([str(SERVICES_SCRIPT), "status"], capture_output=True, text=True,
                          check=False)
    return done.returncode == 0


def _ensure_services() -> dict[str, str]:
    if not _services_answer():
        done = subprocess.run([str(SERVICES_SCRIPT), "start"], capture_output=True,
                              text=True, check=False)
        if done.returncode != 0:
            pytest.fail(
                "scripts/test-services.sh start failed:\n" + done.stdout + done.stderr[-4000:],
                pytrace=False,
            )
    return read_env_file()


def _pg_url(env: dict[str, str], database: str) -> str:
    return (
        f"postgresql+psycopg://{env['HSBA_TEST_PG_USER']}@{env['HSBA_TEST_PG_HOST']}:"
        f"{env['HSBA_TEST_PG_PORT']}/{database}"
    )


@pytest.fixture(scope="session")
def test_services() -> Iterator[TestServices]:
    """The real services, once per session; a fresh PostgreSQL database for the session."""
    import psycopg

    env = _ensure_services()
    os.environ["SOFTHSM2_CONF"] = env["SOFTHSM2_CONF"]
    database = f"hsba_t_{uuid.uuid4().hex[:12]}"
    conninfo = (
        f"host={env['HSBA_TEST_PG_HOST']} port={env['HSBA_TEST_PG_PORT']} "
        f"user={env['HSBA_TEST_PG_USER']} dbname={env['HSBA_TEST_PG_DB']}"
    )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    services = TestServices(
        pg_url=_pg_url(env, database),
        pg_admin_url=env["HSBA_TEST_PG_URL"],
        s3_endpoint=env["HSBA_TEST_S3_ENDPOINT"],
        s3_access_key=env["HSBA_TEST_S3_ACCESS_KEY"],
        s3_secret_key=env["HSBA_TEST_S3_SECRET_KEY"],
        s3_bucket=env["HSBA_TEST_S3_BUCKET"],
        s3_admin_access_key=env["HSBA_TEST_S3_ADMIN_ACCESS_KEY"],
        s3_admin_secret_key=env["HSBA_TEST_S3_ADMIN_SECRET_KEY"],
        pkcs11_module=env["HSBA_TEST_PKCS11_MODULE"],
        pkcs11_token_label=env["HSBA_TEST_PKCS11_TOKEN_LABEL"],
        pkcs11_user_pin=env["HSBA_TEST_PKCS11_USER_PIN"],
        pkcs11_so_pin=env["HSBA_TEST_PKCS11_SO_PIN"],
        pkcs11_keys=tuple(env["HSBA_TEST_PKCS11_KEYS"].split(",")),
        pki_url=env["HSBA_TEST_PKI_URL"],
        pki_arch=env["HSBA_TEST_PKI_ARCH"],
        pki_config=env["HSBA_TEST_PKI_CONFIG"],
        pki_key_root=env["HSBA_TEST_PKI_KEY_ROOT"],
        tsa_url=env["HSBA_TEST_TSA_URL"],
        ocsp_url=env["HSBA_TEST_OCSP_URL"],
        crl_url=env["HSBA_TEST_CRL_URL"],
        softhsm2_conf=env["SOFTHSM2_CONF"],
        env=env,
    )
    try:
        yield services
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture(scope="session")
def test_pki() -> TestPki:
    """The test PKI in-process (certomancer); token identities once the services ran."""
    return load_test_pki()


def _isolate_settings_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    from core.settings import reset_settings_cache

    for name in list(os.environ):
        if name.startswith("HSBA_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HSBA_CONFIG", str(tmp_path / "no-hsba.toml"))
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    monkeypatch.setenv("HSBA_ENV", "test")
    monkeypatch.setenv("HSBA_DATA_DIR", str(data_dir))
    reset_settings_cache()
    return data_dir


@pytest.fixture
def tmp_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """``Settings`` of the embedded default on a temporary ``data_dir`` (also from ``get_settings()``)."""
    from core.settings import get_settings, reset_settings_cache

    _isolate_settings_env(monkeypatch, tmp_path)
    try:
        yield get_settings()
    finally:
        reset_settings_cache()


@pytest.fixture
def real_services_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, test_services: TestServices,
    test_pki: TestPki,
) -> Iterator[Any]:
    """``Settings`` of the real-services profile: PostgreSQL, S3 Object Lock, PKCS#11,
    HTTP TSA, external PKI trusting the test root (also from ``get_settings()``).

    Each test gets its own fresh PostgreSQL database (dropped afterwards): a test that
    seeds the demo hospital must not find another test's seed."""
    from sqlalchemy import create_engine, make_url, text

    from core.settings import get_settings, reset_settings_cache

    _isolate_settings_env(monkeypatch, tmp_path)
    base = make_url(test_services.pg_url)
    database = "hsba_rs_" + uuid.uuid4().hex[:12]
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    root_pem = test_pki.write_pem(LABELS.root, tmp_path / "hsba-test-root.pem")
    values = {
        "HSBA_DATABASE_URL": base.set(database=database).render_as_string(hide_password=False),
        "HSBA_STORE": "s3",
        "HSBA_S3_ENDPOINT": test_services.s3_endpoint,
        "HSBA_S3_ACCESS_KEY": test_services.s3_access_key,
        "HSBA_S3_SECRET_KEY": test_services.s3_secret_key,
        "HSBA_S3_BUCKET": test_services.s3_bucket,
        "HSBA_S3_SECURE": "false",
        "HSBA_KEYSTORE": "pkcs11",
        "HSBA_PKCS11_MODULE": test_services.pkcs11_module,
        "HSBA_PKCS11_TOKEN_LABEL": test_services.pkcs11_token_label,
        "HSBA_PKCS11_USER_PIN": test_services.pkcs11_user_pin,
        "HSBA_PKI": "external",
        "HSBA_TSA_URLS": json.dumps([test_services.tsa_url]),
        "HSBA_TRUST_PEMS": json.dumps([str(root_pem)]),
        "HSBA_SECRET_KEY": "hsba-test-secret-" + uuid.uuid4().hex,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    try:
        yield get_settings()
    finally:
        reset_settings_cache()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()
