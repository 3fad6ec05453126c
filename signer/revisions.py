"""How hsba writes a signing revision: lean, and reserved to fit.

A clinical form lives 10 to 30 years; every byte of every revision is kept that
long. pyHanko's defaults are generous; hsba keeps everything PAdES and PDF/A
need and drops the rest:

- :class:`LeanIncrementalWriter` — pyHanko's incremental writer that (1) leaves
  the document information and XMP metadata as the renderer wrote them
  (pyHanko rewrote the whole XMP packet, ~2.7 KB uncompressed, in every
  revision only to bump ``ModDate``/``Producer``; an unchanged, consistent pair
  is as valid for PDF/A) and (2) writes every new stream Flate-compressed
  (DSS certificates/OCSP responses/CRLs, appearance streams).
- :func:`fitted_reservation` — ``/Contents`` reserved at the measured container
  size plus a small margin (hex-encoded, so twice the DER), instead of +25 %;
  :func:`container_length` measures a dry-run container with a signature value
  of the key's real maximal size (pyHanko's PKCS#11 dry run assumes 512 bytes
  for any RSA or EC key: 256 bytes of zeros kept in every RSA-2048 signature).
- :func:`async_add_document_timestamp` — the B-LTA document timestamp, in the
  lean writer, reserved from the TSA's real token size.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from io import BytesIO
from typing import Any

from asn1crypto import algos, cms, keys
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper, TimestampDSSContentSettings
from pyhanko.sign.timestamps import TimeStamper
from pyhanko_certvalidator import ValidationContext

log = logging.getLogger(__name__)

__all__ = [
    "RESERVE_MARGIN",
    "LeanIncrementalWriter",
    "async_add_document_timestamp",
    "container_length",
    "fitted_reservation",
    "lean_writer",
]

RESERVE_MARGIN = 64
"""Hex characters of margin over a measured container (32 bytes of DER). What
differs between the measured container and a later one of the same signer and
TSA: the TSA token's nonce (8 random bytes: ±1 byte of DER), serial (±1-2),
``genTime`` fraction of a second (0-7 digits; trailing zeros are dropped) and,
for an ECDSA TSA, its signature (±2): at most ~13 bytes. The signer's own
signature is measured at its maximal size (:func:`container_length`). A
container that still does not fit (another TSA of a failover list, a TSA that
changed its certificate) is re-made with pyHanko's own sizing (``signer.sign``,
:func:`async_add_document_timestamp`): one more signature, never a broken file."""


class LeanIncrementalWriter(IncrementalPdfFileWriter):
    """pyHanko's incremental writer, without the metadata rewrite, compressing
    every new stream. Everything else (xref streams when the source has them,
    object streams, the DSS, form fields) is pyHanko's."""

    def _update_meta(self) -> None:
        """Keep ``/Info`` and the XMP packet as they are (see the module docstring)."""

    def add_object(
        self, obj: Any, obj_stream: Any = None, idnum: int | None = None
    ) -> generic.IndirectObject:
        if isinstance(obj, generic.StreamObject) and not _is_metadata(obj):
            obj.compress()  # no-op when a filter is already set
        return super().add_object(obj, obj_stream=obj_stream, idnum=idnum)


def _is_metadata(stream: generic.StreamObject) -> bool:
    # PDF/A wants the XMP packet readable without decoding
    return "/Type" in stream and stream.raw_get("/Type") == "/Metadata"


def lean_writer(pdf: bytes | BytesIO) -> LeanIncrementalWriter:
    """A :class:`LeanIncrementalWriter` over ``pdf`` (non-strict, like the reader)."""
    return LeanIncrementalWriter(BytesIO(pdf) if isinstance(pdf, bytes) else pdf,
                                 strict=False)


def max_signature_length(public_key: keys.PublicKeyInfo) -> int | None:
    """Largest signature value ``public_key`` makes, in bytes (None: unknown kind)."""
    algorithm = public_key.algorithm
    if algorithm in ("rsa", "rsassa_pss"):
        return (public_key.bit_size + 7) // 8
    if algorithm == "ec":
        largest = 2 ** (8 * ((public_key.bit_size + 7) // 8)) - 1
        return len(algos.DSASignature({"r": largest, "s": largest}).dump())
    return {"ed25519": 64, "ed448": 114}.get(algorithm)


def container_length(dry_run: cms.ContentInfo, public_key: keys.PublicKeyInfo) -> int:
    """DER length of a container like ``dry_run`` once really signed by ``public_key``.

    A dry run's signature value is the signer's estimate (pyHanko's PKCS#11 signer:
    512 bytes for any RSA or EC key); it is replaced by one of the key's maximal
    length before measuring. Unknown key kinds keep the estimate."""
    size = max_signature_length(public_key)
    if size is None:
        return len(dry_run.dump())
    measured = cms.ContentInfo.load(dry_run.dump())
    measured["content"]["signer_infos"][0]["signature"] = bytes(size)
    return len(measured.dump(force=True))


def fitted_reservation(der_length: int) -> int:
    """Bytes of ``/Contents`` for a container of ``der_length`` bytes (even)."""
    reserved = 2 * der_length + RESERVE_MARGIN
    return reserved + reserved % 2


async def async_add_document_timestamp(
    pdf: bytes,
    timestamper: TimeStamper,
    context: ValidationContext | None,
    *,
    md_algorithm: str = "sha256",
    prepare: Callable[[IncrementalPdfFileWriter], Awaitable[None]] | None = None,
) -> bytes:
    """Append a document timestamp (PAdES B-LTA) in one lean revision.

    With a ``context``, the TSA's own validation data goes into the DSS in the
    same revision, before the timestamp (so the timestamp covers it).
    ``prepare`` adds the caller's own DSS entries to the same revision first.
    The reservation is the TSA's real token size (``async_dummy_response``, a
    real token once :class:`signer.timestamps.FailoverTimeStamper` has one) plus
    :data:`RESERVE_MARGIN`; a token that does not fit is asked again with
    pyHanko's own sizing.
    """
    token = await timestamper.async_dummy_response(md_algorithm)
    try:
        return await _timestamp(pdf, timestamper, context, md_algorithm, prepare,
                                fitted_reservation(len(token.dump())))
    except PyHankoSigningError as e:
        if "larger than expected" not in str(e):
            raise
        log.warning("document timestamp did not fit its reservation; resizing")
        return await _timestamp(pdf, timestamper, context, md_algorithm, prepare, None)


async def _timestamp(
    pdf: bytes, timestamper: TimeStamper, context: ValidationContext | None,
    md_algorithm: str, prepare: Callable[[IncrementalPdfFileWriter], Awaitable[None]] | None,
    reserved: int | None,
) -> bytes:
    writer = lean_writer(pdf)
    if prepare is not None:
        await prepare(writer)
    output = await PdfTimeStamper(timestamper).async_timestamp_pdf(
        writer, md_algorithm, context, in_place=True, bytes_reserved=reserved,
        dss_settings=TimestampDSSContentSettings(include_vri=False, update_before_ts=True),
    )
    output.seek(0)
    return bytes(output.read())
