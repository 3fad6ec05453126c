"""Fixtures for key-custody tests: a development PKI and a one-page PDF."""

from __future__ import annotations

import io
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pkcs11 import Attribute
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.signers import Signer
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator import ValidationContext

from hsm.dev_pki import DevPki
from hsm.pkcs11 import Pkcs11Keystore


@pytest.fixture(scope="session")
def dev_pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("devpki")
    DevPki.load_or_create(d)
    return d


@pytest.fixture()
def dev_pki(dev_pki_dir: Path) -> DevPki:
    return DevPki.load_or_create(dev_pki_dir)


@pytest.fixture(scope="session")
def one_page_pdf() -> bytes:
    from tests.pdfs import one_page_pdf

    return one_page_pdf()


async def _sign_and_validate(
    pdf: bytes,
    signer: Signer,
    *,
    signing_context: ValidationContext | None = None,
    validation_context: ValidationContext,
    timestamper: TimeStamper | None = None,
) -> tuple[bytes, PdfSignatureStatus]:
    meta = signers.PdfSignatureMetadata(
        field_name="doctor",
        subfilter=SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        embed_validation_info=signing_context is not None,
        validation_context=signing_context,
        use_pades_lta=signing_context is not None and timestamper is not None,
    )
    out = await signers.PdfSigner(meta, signer, timestamper=timestamper).async_sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(pdf)), in_place=False
    )
    data = out.getvalue()
    sig = PdfFileReader(io.BytesIO(data)).embedded_signatures[0]
    status = await async_validate_pdf_signature(sig, signer_validation_context=validation_context)
    return data, status


@pytest.fixture(scope="session")
def sign_and_validate():  # type: ignore[no-untyped-def]
    """``await sign_and_validate(pdf, signer, validation_context=..., ...)``:
    signs with pyHanko's PdfSigner (PAdES) and validates the signature."""
    return _sign_and_validate


@dataclass(frozen=True)
class TokenParams:
    module: str
    label: str
    user_pin: str


@pytest.fixture(scope="session")
def hsm_token(test_services) -> TokenParams:  # type: ignore[no-untyped-def]
    """The shared SoftHSM2 token of the test services (keys generated on it)."""
    return TokenParams(test_services.pkcs11_module, test_services.pkcs11_token_label,
                       test_services.pkcs11_user_pin)


def _labels(pooled) -> set[str]:  # type: ignore[no-untyped-def]
    return {str(o[Attribute.LABEL]) for o in pooled.session.get_objects({})}


@pytest.fixture()
def token_keystore(hsm_token: TokenParams) -> Iterator[Pkcs11Keystore]:
    """A Pkcs11Keystore on the token. Objects the test added (keys ``t-...``, their
    certificates, CA certificates) are destroyed afterwards: the token stays as it was."""
    ks = Pkcs11Keystore(hsm_token.module, hsm_token.label, hsm_token.user_pin)
    before = ks.pool.run(_labels, what="snapshot")
    yield ks

    def _cleanup(pooled):  # type: ignore[no-untyped-def]
        for obj in list(pooled.session.get_objects({})):
            if str(obj[Attribute.LABEL]) not in before:
                obj.destroy()
    ks.pool.run(_cleanup, what="test cleanup")
    ks.close()


@pytest.fixture()
def key_prefix() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


@pytest.fixture()
def data_dir_with_pki(tmp_settings, dev_pki_dir: Path) -> Path:  # type: ignore[no-untyped-def]
    """``tmp_settings.data_dir`` holding a copy of the session's development PKI
    (generating one costs four RSA key pairs)."""
    shutil.copytree(dev_pki_dir / "pki", tmp_settings.data_dir / "pki")
    return Path(tmp_settings.data_dir)
