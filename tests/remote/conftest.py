"""Remote-signing tests: make the provider double importable as ``provider_double``
(the restart test also runs ``hsba_side.py`` from this directory as a script)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture(scope="session")
def one_pdf() -> bytes:
    """A one-page PDF with no signature field (the signer adds an invisible one)."""
    from tests.pdfs import one_page_pdf

    return one_page_pdf()
