"""``make test`` keeps pytest's verdict: its exit code, and its summary line last.

The services script is replaced by ``true`` here (``SERVICES=true``) so that this
test does not stop the services the rest of the session uses; the real script is
exercised by tests/infra/test_real_services.py. ``setup`` runs for real.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _make_test(tmp_path: Path, test_source: str | None, *extra: str) -> subprocess.CompletedProcess[str]:
    target = tmp_path / "test_probe.py"
    if test_source is not None:
        target.write_text(test_source)
    args = f"-q -p no:cacheprovider --rootdir={tmp_path} {target if test_source else tmp_path}"
    # the probe needs no plugin; loading them all (schemathesis, playwright...) costs seconds
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    return subprocess.run(
        ["make", "-s", "-C", str(REPO), "test", "SERVICES=true", f"PYTEST_ARGS={args}", *extra],
        capture_output=True, text=True, check=False, timeout=300, env=env,
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [("def test_ok():\n    assert True\n", 0), ("def test_ko():\n    assert False\n", 1)],
)
def test_exit_code_and_last_line_are_pytest_s(tmp_path: Path, source: str, expected: int) -> None:
    done = _make_test(tmp_path, source)
    assert done.returncode == (0 if expected == 0 else 2), done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert ("1 passed" if expected == 0 else "1 failed") in last


def test_no_tests_collected_fails_unless_allowed(tmp_path: Path) -> None:
    assert _make_test(tmp_path, None).returncode != 0
    assert _make_test(tmp_path, None, "ALLOW_NO_TESTS=1").returncode == 0
