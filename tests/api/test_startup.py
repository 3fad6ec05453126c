"""API start-up: policies are loaded eagerly (a broken policy file stops the
service with the file, the line and the problem in Vietnamese and English,
instead of failing the first request), and the verification sandbox is warmed
up in the background without holding start-up."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.errors import PolicyError
from tests.api.conftest import make_settings
from tests.loopback import free_port

HSBA = [sys.executable, "-c", "import sys; from api.cli import main; sys.exit(main())"]
REPO = Path(__file__).resolve().parents[2]
BROKEN = """kind: signing
form: discharge_paper
title_vi: Giấy ra viện
title_en: Discharge paper
legal_basis: quy chế bệnh viện
steps:
  - role: [doctor
"""


def _broken_dir(tmp_path: Path) -> Path:
    d = tmp_path / "hospital-policies"
    d.mkdir()
    (d / "discharge_paper.yaml").write_text(BROKEN, encoding="utf-8")
    return d


def test_a_broken_policy_stops_app_start_up(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path / "var", policies_dir=_broken_dir(tmp_path)))
    with pytest.raises(PolicyError) as e, TestClient(app):
        pass  # never reached: the lifespan refuses to start
    assert e.value.code == "policy.invalid_file"
    assert "discharge_paper.yaml" in e.value.message_en
    assert "dòng" in e.value.message_vi


def test_hsba_serve_refuses_a_broken_policy_before_listening(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HSBA_")}
    env.update(HSBA_DATA_DIR=str(tmp_path / "var"), HSBA_CONFIG=str(tmp_path / "none"),
               HSBA_ENV="development", HSBA_POLICIES_DIR=str(_broken_dir(tmp_path)))
    done = subprocess.run([*HSBA, "serve", "--port", str(free_port())], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "discharge_paper.yaml" in done.stderr and "Traceback" not in done.stderr
    assert "dòng 8" in done.stderr and "line 8" in done.stderr, done.stderr
    assert "hsba đang chạy" not in done.stdout  # no banner: it never served


def test_verification_warm_up_runs_in_the_background(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The sandbox's warm_up is replaced by one that blocks until released (a stand-in:
    the point is that start-up does not wait for it)."""
    from signer.verify import sandbox

    release, called = threading.Event(), threading.Event()

    def slow_warm_up(workers: int = 1) -> None:
        called.set()
        release.wait(30)

    monkeypatch.setattr(sandbox, "warm_up", slow_warm_up)
    _start_up_does_not_wait(tmp_path, called, release)


def _start_up_does_not_wait(tmp_path: Path, called: threading.Event,
                            release: threading.Event) -> None:
    app = create_app(make_settings(tmp_path / "var"))
    try:
        with TestClient(app) as client:
            assert client.get("/healthz").status_code == 200  # served while warm-up waits
            assert called.wait(10)
            assert not release.is_set()
    finally:
        release.set()


def test_layout_cache_warm_up_runs_in_the_background(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Start-up asks for every form's layout cache without waiting for it (the real
    warm-up is replaced by one that blocks until released: a stand-in, as above)."""
    from templates import render

    release, called = threading.Event(), threading.Event()

    def slow_warm(form_codes: list[str] | None = None) -> list[tuple[str, str]]:
        assert form_codes is None  # every form
        called.set()
        release.wait(30)
        return []

    monkeypatch.setattr(render, "warm_layout_cache", slow_warm)
    _start_up_does_not_wait(tmp_path, called, release)
