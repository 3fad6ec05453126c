"""B-LTA without an idle wait: the document time-stamp's revision is prepared while
the signature's own time-stamp is on its way.

A B-LTA signature makes two time-stamp requests that depend on each other: the
signature time-stamp (an unsigned attribute of the CMS) and then the document
time-stamp, whose byte range covers that CMS. Sequentially, the CPU work of the
document time-stamp's revision (reading the signed file, DSS entries for the TSA,
the new signature field, the output) starts only when the first TSA has answered.
It does not depend on the answer, though: the signature's ``/Contents`` is reserved
at a fixed size, so the signed file has the same bytes before and after the token
arrives, except inside that reservation.

:func:`async_sign_then_timestamp` therefore:

1. starts pyHanko's signing (``PdfSigner.async_sign_pdf``) with an output stream it
   holds; once the signature time-stamp request has left (the TSA client's HTTP
   session reports the request sent, :data:`signer.timestamps.TSA_REQUEST_SENT`),
   the stream holds the whole signed revision with a zero-filled ``/Contents``;
2. builds the document time-stamp's revision on a copy of those bytes
   (:func:`signer.revisions.async_add_document_timestamp`: DSS, field,
   reservation), while the event loop still waits for the TSA;
3. when pyHanko has written the CMS with its time-stamp, copies the signed bytes
   over the copy's prefix (after checking that they differ only inside the
   signature's ``/Contents``), recomputes the document digest over the document
   time-stamp's ``/ByteRange`` and asks the TSA for the document time-stamp.

The result is byte for byte what the sequential path writes for the same tokens
(the same pyHanko calls on the same bytes), and it is checked before it is
returned: it starts with the signed file, and the document time-stamp stamps the
digest of its byte range. When the TSA is not reached over HTTP (an in-process
TSA), or anything does not line up, the sequential path runs instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from io import BytesIO
from typing import Any

from asn1crypto import cms
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.timestamps import TimeStamper
from pyhanko_certvalidator import ValidationContext

from signer.revisions import async_add_document_timestamp
from signer.timestamps import TSA_REQUEST_SENT

log = logging.getLogger(__name__)

__all__ = ["OVERLAPPED", "async_sign_then_timestamp"]

OVERLAPPED = [0, 0]
"""[overlapped, sequential] B-LTA signatures of this process (tests, metrics)."""

_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")


class _NotAligned(Exception):
    """The prepared revision cannot take the signed bytes: use the sequential path."""


def _last_byte_range(data: bytes | memoryview) -> tuple[int, int, int, int]:
    tail = bytes(data[-8192:]) if len(data) > 8192 else bytes(data)
    matches = list(_BYTE_RANGE.finditer(tail))
    if not matches:
        raise _NotAligned("no /ByteRange in the last revision")
    a, b, c, d = (int(x) for x in matches[-1].groups())
    return a, b, c, d


def _check_only_contents_differ(placeholder: bytes, signed: bytes) -> None:
    """``signed`` is ``placeholder`` with its last signature's /Contents filled in."""
    if len(placeholder) != len(signed):
        raise _NotAligned("the signed file's length changed after the request")
    start, length, end, _ = _last_byte_range(signed)
    if start != 0 or placeholder[:length] != signed[:length] \
            or placeholder[end:] != signed[end:]:
        raise _NotAligned("the signed file differs outside the signature's /Contents")


class _AfterSignature(TimeStamper):
    """The document time-stamp's TSA, asked only once the signature is complete, with
    the digest of the prepared revision over the signed bytes."""

    def __init__(self, inner: TimeStamper, signing: asyncio.Task[Any], signed: BytesIO,
                 placeholder: bytes) -> None:
        super().__init__(include_nonce=True)  # type: ignore[no-untyped-call]
        self.inner, self.signing, self.signed = inner, signing, signed
        self.placeholder = placeholder
        self.stream: BytesIO | None = None
        self.digest: bytes | None = None
        self.signed_bytes: bytes | None = None

    async def prepare(self, writer: IncrementalPdfFileWriter) -> None:
        """``async_add_document_timestamp``'s hook: remember the stream it writes into."""
        self.stream = writer.input_stream  # written in place

    async def async_dummy_response(self, md_algorithm: str) -> cms.ContentInfo:
        return await self.inner.async_dummy_response(md_algorithm)

    def validation_paths(self, validation_context: Any) -> Any:
        return self.inner.validation_paths(validation_context)

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> cms.ContentInfo:
        await self.signing  # the signature, with its own time-stamp, is written
        signed = self.signed.getvalue()
        _check_only_contents_differ(self.placeholder, signed)
        assert self.stream is not None
        view = self.stream.getbuffer()
        try:
            if bytes(view[:len(signed)]) != self.placeholder:
                raise _NotAligned("the prepared revision does not extend the signed file")
            view[:len(signed)] = signed
            start, length, end, tail = _last_byte_range(view)
            digest = hashlib.new(md_algorithm)
            digest.update(view[start:start + length])
            digest.update(view[end:end + tail])
        finally:
            view.release()
        self.digest, self.signed_bytes = digest.digest(), signed
        return await self.inner.async_timestamp(self.digest, md_algorithm)


async def async_sign_then_timestamp(
    sign: Callable[[BytesIO], Awaitable[Any]],
    timestamper: TimeStamper,
    context: ValidationContext | None,
    *,
    md_algorithm: str = "sha256",
) -> bytes:
    """Run ``sign(output)`` (pyHanko ``PdfSigner.async_sign_pdf`` writing to ``output``,
    with a signature time-stamp from ``timestamper``), then add the document
    time-stamp; returns the B-LTA file. Errors of ``sign`` are raised as they are."""
    await timestamper.async_dummy_response(md_algorithm)  # cached: no request later
    sent = asyncio.Event()
    signed = BytesIO()
    marker = TSA_REQUEST_SENT.set(sent)
    try:
        signing = asyncio.create_task(sign(signed))  # copies the context: sees ``sent``
    finally:
        TSA_REQUEST_SENT.reset(marker)
    waiting = asyncio.create_task(sent.wait())
    try:
        await asyncio.wait({signing, waiting}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiting.cancel()
    if signing.done():  # no HTTP TSA request seen (or signing failed): sequential
        signing.result()
        return await _sequential(signed.getvalue(), timestamper, context, md_algorithm)
    deferred = _AfterSignature(timestamper, signing, signed, signed.getvalue())
    try:
        result = await async_add_document_timestamp(
            deferred.placeholder, deferred, context, md_algorithm=md_algorithm,
            prepare=deferred.prepare)
    except _NotAligned as e:
        log.warning("document time-stamp not prepared in advance (%s); sequential", e)
        await signing
        return await _sequential(signed.getvalue(), timestamper, context, md_algorithm)
    except BaseException:
        if not signing.done():
            signing.cancel()
        raise
    _check_result(result, deferred, md_algorithm)
    OVERLAPPED[0] += 1
    return result


async def _sequential(signed: bytes, timestamper: TimeStamper,
                      context: ValidationContext | None, md_algorithm: str) -> bytes:
    OVERLAPPED[1] += 1
    return await async_add_document_timestamp(signed, timestamper, context,
                                              md_algorithm=md_algorithm)


def _check_result(result: bytes, deferred: _AfterSignature, md_algorithm: str) -> None:
    """The file starts with the signed bytes and its document time-stamp stamps the
    digest of its byte range (a mistake here would be a broken signature)."""
    signed = deferred.signed_bytes
    assert signed is not None and deferred.digest is not None
    start, length, end, tail = _last_byte_range(result)
    digest = hashlib.new(md_algorithm)
    digest.update(result[start:start + length])
    digest.update(result[end:end + tail])
    if not result.startswith(signed) or digest.digest() != deferred.digest:
        raise RuntimeError("document time-stamp prepared in advance does not match its bytes")
