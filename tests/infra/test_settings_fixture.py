"""``tmp_settings``: the embedded default on a temporary data_dir, isolated from the outside."""

from __future__ import annotations

from pathlib import Path


def test_tmp_settings_is_isolated_embedded_default(tmp_settings, tmp_path: Path) -> None:
    from core.settings import get_settings

    assert tmp_settings.env == "test"
    assert tmp_settings.data_dir == tmp_path / "var"
    assert tmp_settings.data_dir.is_dir()
    assert tmp_settings.effective_database_url == f"sqlite:///{tmp_path / 'var' / 'hsba.db'}"
    assert tmp_settings.store == "fs" and tmp_settings.keystore == "software"
    assert get_settings() is tmp_settings


def test_tmp_settings_ignores_outside_environment(monkeypatch, tmp_path: Path, request) -> None:
    monkeypatch.setenv("HSBA_STORE", "s3")
    monkeypatch.setenv("HSBA_DATABASE_URL", "postgresql+psycopg://elsewhere/db")
    settings = request.getfixturevalue("tmp_settings")
    assert settings.store == "fs"
    assert settings.database_url == ""
