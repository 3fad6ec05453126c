"""Remote-signing tests: make the provider double importable as ``provider_double``
(the restart test also runs ``hsba_side.py`` from this directory as a script)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture(scope="session")
def one_pdf() -> bytes:
    """A one-page PDF with no signature field (the signer adds an invisible one)."""
    from tests.pdfs import one_page_pdf

    return one_page_pdf()


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    """The SmartCA-shaped provider double (``provider_double``), served on loopback."""
    from provider_double import ProviderDouble

    from tests.loopback import LoopbackServer

    double = ProviderDouble(tmp_path_factory.mktemp("double-pki"))
    with LoopbackServer(double.app) as server:
        yield double, server.url
