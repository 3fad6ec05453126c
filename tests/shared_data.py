"""Where the external test data lives: ``$HSBA_SHARED``, else ``shared/`` beside the
checkout (as on CI), else this workplace's ``/work/shared``. Tests read it in place;
nothing from it is copied into the repository."""

from __future__ import annotations

import os
from pathlib import Path


def _shared() -> Path:
    if os.environ.get("HSBA_SHARED"):
        return Path(os.environ["HSBA_SHARED"])
    beside = Path(__file__).resolve().parents[2] / "shared"
    return beside if beside.is_dir() else Path("/work/shared")


SHARED = _shared()
CORPUS = Path(os.environ.get("HSBA_CORPUS", SHARED / "corpus"))
TRUST = SHARED / "trust"
