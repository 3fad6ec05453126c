"""Fixtures for the policy tests: the shipped defaults, and a copy to edit."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from policies import PolicySet, load_policies
from policies.policy_set import DEFAULTS_DIR


@pytest.fixture(scope="session")
def defaults() -> PolicySet:
    """The shipped defaults only (no hospital directory)."""
    return _defaults()


def _defaults() -> PolicySet:
    import os

    from core.settings import reset_settings_cache

    saved = os.environ.pop("HSBA_POLICIES_DIR", None)
    reset_settings_cache()
    try:
        return load_policies(None)
    finally:
        if saved is not None:
            os.environ["HSBA_POLICIES_DIR"] = saved
        reset_settings_cache()


@pytest.fixture()
def hospital_dir(tmp_path: Path) -> Path:
    """An empty hospital policy directory (overrides go here)."""
    d = tmp_path / "hospital-policies"
    d.mkdir()
    return d


@pytest.fixture()
def defaults_copy(tmp_path: Path) -> Path:
    """A full copy of the shipped defaults, to edit as a hospital would."""
    d = tmp_path / "copy"
    shutil.copytree(DEFAULTS_DIR, d)
    return d
