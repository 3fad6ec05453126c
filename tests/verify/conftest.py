from __future__ import annotations

from pathlib import Path

import pytest

from tests.verify import documents
from tests.verify.pki import TestPki, build_pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return build_pki(Path(tmp_path_factory.mktemp("verify-pki")))


@pytest.fixture(scope="session")
def signed_form(pki: TestPki) -> bytes:
    """The form signed once (B-T) by the nurse: the base for the attacks."""
    return documents.sign(documents.base_form(), pki, who="nurse", field="nurse", level="B-T")
