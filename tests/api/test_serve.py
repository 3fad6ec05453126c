"""``hsba serve`` on a real uvicorn on loopback: first run seeds the demo hospital
and prints the URL and the demo logins; the printed logins work; readiness and
metrics answer. ``HSBA_ENV=production`` refuses every development adapter,
naming each."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pyotp
import pytest

from core.errors import ConfigurationError
from core.settings import Settings
from tests.loopback import free_port as _free_port
from tests.loopback import wait_until_serving

HSBA = [sys.executable, "-c", "import sys; from api.cli import main; sys.exit(main())"]
REPO = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HSBA_")}
    env.update({"HSBA_DATA_DIR": str(tmp_path / "var"), "HSBA_CONFIG": str(tmp_path / "none"),
                **extra})
    return env


def test_production_refuses_development_adapters(tmp_path: Path) -> None:
    done = subprocess.run([*HSBA, "--lang", "en", "serve", "--port", str(_free_port())],
                          env=_env(tmp_path, HSBA_ENV="production"), cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    for name in ("software keystore", "development PKI", "development TSA",
                 "filesystem WORM store", "SQLite records index", "default secret key"):
        assert name in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    with pytest.raises(ConfigurationError) as e:
        from api.app import create_app

        create_app(Settings(env="production", data_dir=tmp_path / "p"))
    assert len(e.value.details) == 6


def test_serve_seeds_and_prints_logins(tmp_path: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen([*HSBA, "--lang", "en", "serve", "--port", str(port)],
                            env=_env(tmp_path, HSBA_ENV="development"), cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        out = wait_until_serving(proc, base)
        assert f"hsba is running at {base}" in out, out
        assert "DEVELOPMENT ONLY" in out
        m = re.search(r"\[staff \] clinician\s+(\S+)\s+secret=(\S+) totp=(\S+) pin=(\S+)", out)
        assert m, out
        username, secret, totp_secret = m.group(1), m.group(2), m.group(3)
        r = httpx.post(f"{base}/api/v1/auth/login", json={
            "username": username, "password": secret, "totp": pyotp.TOTP(totp_secret).now()},
            timeout=60)  # a loaded 2-core machine: start-up work (verification warm-up) runs too
        assert r.status_code == 200, r.text
        assert r.headers["x-request-id"]
        ready = httpx.get(f"{base}/readyz", timeout=60)
        assert ready.status_code == 200, ready.text
        assert all(c["ok"] for c in ready.json()["checks"].values())
        metrics = httpx.get(f"{base}/metrics", timeout=60).text
        assert "hsba_http_requests_total" in metrics and "hsba_signatures_total" in metrics
        assert httpx.get(f"{base}/api/v1/openapi.json", timeout=60).json()["openapi"].startswith("3.1")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    assert '"logger": "hsba.access"' in err  # structured JSON access log
    assert "BN2026" not in err  # no patient identifiers in the logs
