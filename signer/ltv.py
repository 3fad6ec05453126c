"""Long-term validation: bring signed documents to PAdES B-LTA and keep them there.

- :func:`extend_to_lta` — for a document whose signatures are B-B/B-T/B-LT:
  the validation data of every signature (one validation context each, so a
  signature's DSS entries are its own) **and** the document timestamp go into
  one incremental revision.
- :func:`retimestamp` — renewal before the last timestamp's certificate or
  algorithm expires: the last timestamp's validation data and the new
  document timestamp in one revision (pyHanko's own
  ``update_archival_timestamp_chain`` would spend two).

Signing at level B-LTA (``signer.sign``) already produces the signature with
its DSS in one revision and the document timestamp in the next.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from io import BytesIO
from typing import Any

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation.dss import DocumentSecurityStore, collect_validation_info
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko_certvalidator import errors as cv_errors

from core.errors import HsbaError, InvalidInput, SigningError, UnavailableError
from signer.revisions import async_add_document_timestamp
from signer.revocation import RevocationSource
from signer.timestamps import timestamper_for

__all__ = ["async_extend_to_lta", "async_retimestamp", "extend_to_lta", "retimestamp"]


def _read(pdf: bytes) -> PdfFileReader:
    try:
        return PdfFileReader(BytesIO(pdf), strict=False)
    except (PdfError, ValueError, KeyError, TypeError, AssertionError) as e:
        raise InvalidInput(
            "ltv.malformed_pdf", "Tệp PDF không đọc được.", "The PDF cannot be parsed.",
        ) from e


def _need_tsa(timestampers: Sequence[TimeStamper]) -> TimeStamper:
    ts = timestamper_for(timestampers)
    if ts is None:
        raise SigningError(
            "ltv.timestamp_required",
            "Cần máy chủ cấp dấu thời gian (TSA) để gia hạn lưu trữ dài hạn.",
            "A time-stamping authority (TSA) is needed for long-term archival.",
        )
    return ts


def _wrap(e: Exception) -> HsbaError:
    if isinstance(e, HsbaError):
        return e
    if isinstance(e, (cv_errors.PathValidationError, cv_errors.PathBuildingError)):
        return SigningError(
            "ltv.validation_failed",
            "Không xác thực được chứng thư số của chữ ký/dấu thời gian để lưu trữ dài hạn.",
            "A signature or timestamp certificate could not be validated for archival.",
            details={"reason": str(e)},
        )
    if isinstance(e, (OSError, TimeoutError)):
        return UnavailableError(
            "ltv.dependency_unavailable",
            "Dịch vụ TSA/OCSP không trả lời.", "The TSA/OCSP service did not answer.",
            details={"reason": type(e).__name__},
        )
    return SigningError(
        "ltv.failed", "Không bổ sung được dữ liệu lưu trữ dài hạn.",
        "Long-term validation data could not be added.", details={"reason": str(e)},
    )


async def _dss_then_timestamp(
    pdf: bytes, signatures: Sequence[EmbeddedPdfSignature], timestamper: TimeStamper,
    revocation: RevocationSource, md_algorithm: str,
) -> bytes:
    """One lean incremental revision (``signer.revisions``): DSS entries for
    ``signatures`` (one validation context each), the new timestamp's own TSA data,
    then the document timestamp, reserved to fit."""
    reader = _read(pdf)
    known = list(DocumentSecurityStore.read_dss(reader).load_certs()) \
        if "/DSS" in reader.root else []

    def context() -> Any:
        # a B-LT/B-LTA CMS carries only its signing certificate: paths need the DSS's
        ctx = revocation.validation_context()
        ctx.certificate_registry.register_multiple(known)
        return ctx

    async def add_signatures_dss(writer: IncrementalPdfFileWriter) -> None:
        for sig in signatures:
            sig_context = context()  # its own: its own DSS entries
            paths = await collect_validation_info(sig, sig_context)
            DocumentSecurityStore.supply_dss_in_writer(
                writer, None, paths=paths, validation_context=sig_context
            )

    try:
        return await async_add_document_timestamp(
            pdf, timestamper, context(), md_algorithm=md_algorithm,
            prepare=add_signatures_dss)
    except (HsbaError, PyHankoSigningError, cv_errors.PathValidationError,
            cv_errors.PathBuildingError, OSError, TimeoutError) as e:
        raise _wrap(e) from e


async def async_extend_to_lta(
    pdf: bytes,
    *,
    timestampers: Sequence[TimeStamper],
    revocation: RevocationSource,
    md_algorithm: str = "sha256",
) -> bytes:
    """Add every signature's validation data and a document timestamp, in one revision."""
    timestamper = _need_tsa(timestampers)
    signatures = _read(pdf).embedded_signatures
    if not signatures:
        raise InvalidInput(
            "ltv.no_signature", "Văn bản chưa có chữ ký nào.", "The document has no signature.",
        )
    return await _dss_then_timestamp(pdf, signatures, timestamper, revocation, md_algorithm)


async def async_retimestamp(
    pdf: bytes,
    *,
    timestampers: Sequence[TimeStamper],
    revocation: RevocationSource,
    md_algorithm: str = "sha256",
) -> bytes:
    """Renew the archival timestamp chain: the last document timestamp's validation
    data and a new document timestamp, in one revision (ETSI EN 319 142-1 B-LTA)."""
    timestamper = _need_tsa(timestampers)
    reader = _read(pdf)
    chain = reader.embedded_timestamp_signatures
    if not chain:
        return await async_extend_to_lta(pdf, timestampers=timestampers,
                                         revocation=revocation, md_algorithm=md_algorithm)
    return await _dss_then_timestamp(pdf, chain[-1:], timestamper, revocation, md_algorithm)


def extend_to_lta(pdf: bytes, *, timestampers: Sequence[TimeStamper],
                  revocation: RevocationSource, md_algorithm: str = "sha256") -> bytes:
    """Synchronous :func:`async_extend_to_lta` (CLI and tests)."""
    return asyncio.run(async_extend_to_lta(pdf, timestampers=timestampers,
                                           revocation=revocation, md_algorithm=md_algorithm))


def retimestamp(pdf: bytes, *, timestampers: Sequence[TimeStamper],
                revocation: RevocationSource) -> bytes:
    """Synchronous :func:`async_retimestamp` (CLI and jobs run from a script)."""
    return asyncio.run(async_retimestamp(pdf, timestampers=timestampers, revocation=revocation))
