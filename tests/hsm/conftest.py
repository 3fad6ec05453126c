"""Fixtures for key-custody tests: a development PKI and a one-page PDF."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.signers import Signer
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator import ValidationContext

from hsm.dev_pki import DevPki


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
    w = PdfFileWriter()
    content = w.add_object(generic.StreamObject(stream_data=b"BT /F1 12 Tf 72 720 Td ET"))
    w.insert_page(PageObject(contents=content, media_box=generic.ArrayObject(
        [generic.NumberObject(0), generic.NumberObject(0),
         generic.NumberObject(595), generic.NumberObject(842)])))
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


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
