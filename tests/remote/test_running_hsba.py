"""App-confirmed remote signing in a RUNNING hsba, configured by environment variables
only, on the real PostgreSQL: ``hsba serve`` and ``hsba worker`` as processes, the
SmartCA-shaped provider DOUBLE (``provider_double.py``; the real providers cannot be
reached from here) over real HTTP.

- A request made through the API, confirmed at the double with no notification, is
  NOT settled by the API process (on PostgreSQL polling belongs to the worker), then
  is settled by an ``hsba worker`` process started afterwards.
- Each request and each settlement is in the audit chain.
- With the webhook on, the double's signed notification to the running API settles
  a two-document request at once (no worker running).
"""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from provider_double import SP_ID, SP_PASSWORD, USER_ID, ProviderDouble
from test_async_provider import assert_signed

from tests.loopback import free_port, wait_until_serving

pytestmark = pytest.mark.services

HSBA = [sys.executable, "-c", "import sys; from api.cli import main; sys.exit(main())"]
REPO = Path(__file__).resolve().parents[2]
WEBHOOK_SECRET = "test-only webhook secret " + "x" * 8


@pytest.fixture(scope="module")
def database(test_services: Any) -> Iterator[str]:
    """A database of its own (the demo seeding reads its logins back from its data dir)."""
    import psycopg

    env = test_services.env
    conninfo = (f"host={env['HSBA_TEST_PG_HOST']} port={env['HSBA_TEST_PG_PORT']} "
                f"user={env['HSBA_TEST_PG_USER']} dbname={env['HSBA_TEST_PG_DB']}")
    name = f"hsba_remote_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield (f"postgresql+psycopg://{env['HSBA_TEST_PG_USER']}@{env['HSBA_TEST_PG_HOST']}:"
               f"{env['HSBA_TEST_PG_PORT']}/{name}")
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def hsba_env(database: str, provider: tuple[ProviderDouble, str],
             tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("hsba-remote")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HSBA_")}
    env.update({
        "HSBA_ENV": "development", "HSBA_DATA_DIR": str(tmp / "var"),
        "HSBA_CONFIG": str(tmp / "none.toml"), "HSBA_DATABASE_URL": database,
        "HSBA_STORE": "fs", "HSBA_KEYSTORE": "software", "HSBA_PKI": "dev",
        "HSBA_REMOTE_PROVIDER": "smartca", "HSBA_REMOTE_PROVIDER_URL": provider[1],
        "HSBA_REMOTE_SP_ID": SP_ID, "HSBA_REMOTE_SP_SECRET": SP_PASSWORD,
        "HSBA_REMOTE_WEBHOOK": "true", "HSBA_REMOTE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "HSBA_REMOTE_POLL_EVERY_S": "1", "HSBA_REMOTE_POLL_OLDER_THAN_S": "0",
    })
    return env


Api = tuple[str, dict[str, str], dict[str, str], dict[str, str]]
"""base URL; bearer headers of the demo clinician, cashier and head of department."""


def _login(base: str, banner: str, role: str) -> dict[str, str]:
    """A bearer header for the demo login of ``role`` printed in the banner."""
    m = re.search(rf"\[staff \] {role}\s+(\S+)\s+secret=(\S+) totp=(\S+)", banner)
    assert m, banner
    r = httpx.post(f"{base}/api/v1/auth/login", json={
        "username": m.group(1), "password": m.group(2),
        "totp": pyotp.TOTP(m.group(3)).now()}, timeout=60)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _bind_subscriber(base: str, admin: dict[str, str], clinician: dict[str, str]) -> None:
    """The administrator binds the clinician's account to the double's subscriber id
    (a request is sent only under the clinician's own bound id)."""
    me = httpx.get(f"{base}/api/v1/auth/me", headers=clinician, timeout=60)
    assert me.status_code == 200, me.text
    r = httpx.put(f"{base}/api/v1/remote-signing/subscribers/{me.json()['subject']}",
                  headers=admin, json={"user_id": USER_ID}, timeout=60)
    assert r.status_code == 200, r.text


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err or ""


@pytest.fixture(scope="module")
def api(hsba_env: dict[str, str]) -> Iterator[Api]:
    """``hsba serve`` running; the base URL, the bearer headers of a clinician (bound to
    the double's subscriber id), a cashier and a head of department (not bound)."""
    port = free_port()
    proc = subprocess.Popen([*HSBA, "--lang", "en", "serve", "--port", str(port)],
                            env=hsba_env, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        out = wait_until_serving(proc, base)
        clinician = _login(base, out, "clinician")
        _bind_subscriber(base, _login(base, out, "admin"), clinician)
        yield (base, clinician, _login(base, out, "cashier"),
               _login(base, out, "head_of_department"))
    finally:
        err = _stop(proc)
        assert WEBHOOK_SECRET not in err and SP_PASSWORD not in err  # never logged


def _request(base: str, auth: dict[str, str], pdf: bytes, doc_ids: list[str]) -> str:
    r = httpx.post(f"{base}/api/v1/remote-signing/requests", headers=auth, timeout=120, json={
        "user_id": USER_ID, "signer_name": "Phạm Thị Thử", "documents": [
            {"doc_id": d, "pdf_b64": base64.b64encode(pdf).decode(), "field_name": "BacSi",
             "reason": "Ký hồ sơ bệnh án"} for d in doc_ids]})
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "pending" and body["documents"] == doc_ids
    return str(body["transaction_id"])


def _tran_code(double: ProviderDouble, transaction_id: str) -> str:
    return next(code for code, tx in double.transactions.items()
                if tx["transaction_id"] == transaction_id)


def _state(base: str, auth: dict[str, str], transaction_id: str) -> dict[str, Any]:
    r = httpx.get(f"{base}/api/v1/remote-signing/requests/{transaction_id}", headers=auth,
                  timeout=60)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _audited(database: str, transaction_id: str) -> list[tuple[str, str, str]]:
    """(actor, stage, status) of the audit chain's entries about the transaction."""
    from sqlalchemy import create_engine

    from archive.audit import AuditChain

    engine = create_engine(database)
    try:
        entries = AuditChain(engine).entries(limit=100_000)
    finally:
        engine.dispose()
    return [(e.actor_id, e.details.get("stage", ""), e.details.get("status", ""))
            for e in entries if e.action == "sign"
            and e.details.get("remote_transaction") == transaction_id]


def test_a_confirmation_without_webhook_is_settled_by_hsba_worker(
        api: Api, hsba_env: dict[str, str],
        provider: tuple[ProviderDouble, str], one_pdf: bytes, tmp_path: Path,
        database: str) -> None:
    base, auth, _, _ = api
    double, _ = provider
    tx_id = _request(base, auth, one_pdf, ["phieu-1"])
    double.confirm(_tran_code(double, tx_id))  # the signer confirms; no notification sent
    time.sleep(4)  # four polling periods: the API process on PostgreSQL does not poll
    assert _state(base, auth, tx_id)["status"] == "pending"
    worker = subprocess.Popen([*HSBA, "worker"], env=hsba_env, cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        state = _state(base, auth, tx_id)
        while state["status"] == "pending" and time.monotonic() < deadline:
            assert worker.poll() is None, worker.communicate()
            time.sleep(0.5)
            state = _state(base, auth, tx_id)
    finally:
        err = _stop(worker)
    assert state["status"] == "completed", (state, err[-3000:])
    assert sorted(state["signed"]) == ["phieu-1"] and state["sign_algo"] == "sha256_rsa"
    assert WEBHOOK_SECRET not in err and SP_PASSWORD not in err
    assert_signed(double, base64.b64decode(state["signed"]["phieu-1"]), tmp_path / "p1.pdf")
    audited = _audited(database, tx_id)
    assert [a[1:] for a in audited] == [("requested", ""), ("settled", "completed")]
    assert audited[1][0] == "system:remote-signing"


def test_the_providers_signed_notification_settles_through_the_running_api(
        api: Api, provider: tuple[ProviderDouble, str],
        one_pdf: bytes, tmp_path: Path, database: str) -> None:
    base, auth, _, other = api
    double, _ = provider
    tx_id = _request(base, auth, one_pdf, ["a", "b"])
    tran_code = _tran_code(double, tx_id)
    hook = f"{base}/api/v1/remote-signing/callbacks/smartca"
    assert double.notify(tran_code, hook, b"not the shared secret").status_code == 401
    double.confirm(tran_code)
    r = double.notify(tran_code, hook, WEBHOOK_SECRET.encode())
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "completed" and r.json()["signed"] == ["a", "b"]
    state = _state(base, auth, tx_id)
    assert state["status"] == "completed" and sorted(state["signed"]) == ["a", "b"]
    assert_signed(double, base64.b64decode(state["signed"]["b"]), tmp_path / "b.pdf")
    # another account, even one with the sign right, reads nothing of it
    r = httpx.get(f"{base}/api/v1/remote-signing/requests/{tx_id}", headers=other, timeout=60)
    assert r.status_code == 404 and r.json()["code"] == "remote.unknown_transaction", r.text
    assert "signed" not in r.json()
    assert double.notify(tran_code, hook, WEBHOOK_SECRET.encode()).status_code == 409
    assert [a[1:] for a in _audited(database, tx_id)] == [("requested", ""),
                                                          ("settled", "completed")]


def test_requests_need_the_sign_right_and_unknown_transactions_are_404(
        api: Api, provider: tuple[ProviderDouble, str],
        one_pdf: bytes) -> None:
    base, auth, cashier, _ = api
    double, _ = provider
    before = len(double.transactions)
    r = httpx.post(f"{base}/api/v1/remote-signing/requests", json={}, timeout=60)
    assert r.status_code == 401
    r = httpx.post(f"{base}/api/v1/remote-signing/requests", headers=cashier, timeout=60,
                   json={"user_id": USER_ID, "documents": [
                       {"doc_id": "x", "pdf_b64": base64.b64encode(one_pdf).decode()}]})
    assert r.status_code == 403 and r.json()["code"] == "access.denied", r.text
    assert len(double.transactions) == before  # nothing asked of the provider
    r = httpx.get(f"{base}/api/v1/remote-signing/requests/{'0' * 32}", headers=auth,
                  timeout=60)
    assert r.status_code == 404 and r.json()["code"] == "remote.unknown_transaction"
