"""One authorisation, many documents (CSC ``numSignatures``, SmartCA multi-file).

The caller holds the unlocked signer (HSM session, SAD, app confirmation);
:func:`async_sign_batch` signs every document with it and reports each
document's outcome: one failing document does not stop the others, and a
failed document returns no bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import replace

from pyhanko.sign.signers import Signer
from pyhanko.sign.timestamps import TimeStamper

from core.errors import HsbaError, SigningError
from signer.request import SignRequest, SignResult
from signer.revocation import RevocationSource
from signer.sign import async_sign_pdf
from signer.timestamps import timestamper_for

log = logging.getLogger(__name__)

__all__ = ["async_sign_batch", "sign_batch"]


async def async_sign_batch(
    documents: Sequence[bytes],
    request_template: SignRequest | Sequence[SignRequest],
    *,
    signer: Signer,
    timestampers: Sequence[TimeStamper] = (),
    revocation: RevocationSource | None = None,
    concurrency: int = 4,
) -> list[SignResult]:
    """Sign N documents with one authorised signer; one :class:`SignResult` each, in order.

    ``request_template`` is one request for all documents or one per document.
    """
    if isinstance(request_template, SignRequest):
        requests = [request_template] * len(documents)
    else:
        requests = list(request_template)
        if len(requests) != len(documents):
            raise SigningError(
                "sign.batch_mismatch",
                "Số yêu cầu ký không khớp số văn bản.",
                "The number of signing requests does not match the number of documents.",
            )
    # one timestamper for the batch: it learns the TSA certificates once
    shared_ts = timestamper_for(timestampers)
    ts_list: Sequence[TimeStamper] = (shared_ts,) if shared_ts is not None else ()
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(index: int, pdf: bytes, request: SignRequest) -> SignResult:
        async with gate:
            before = hashlib.sha256(pdf).hexdigest()
            try:
                signed = await async_sign_pdf(pdf, request, signer=signer,
                                              timestampers=ts_list, revocation=revocation)
            except HsbaError as e:
                log.warning("batch document %d not signed: %s", index, e.code)
                return SignResult(index=index, error=e.to_dict(), sha256_before=before)
            return SignResult(index=index, pdf=signed, sha256_before=before,
                              sha256_after=hashlib.sha256(signed).hexdigest())

    return list(await asyncio.gather(*(one(i, d, r) for i, (d, r)
                                       in enumerate(zip(documents, requests, strict=True)))))


def sign_batch(documents: Sequence[bytes], request_template: SignRequest | Sequence[SignRequest],
               *, signer: Signer, timestampers: Sequence[TimeStamper] = (),
               revocation: RevocationSource | None = None) -> list[SignResult]:
    """Synchronous :func:`async_sign_batch` (CLI)."""
    return asyncio.run(async_sign_batch(documents, request_template, signer=signer,
                                        timestampers=timestampers, revocation=revocation))


def with_field(request: SignRequest, field_name: str) -> SignRequest:
    return replace(request, field_name=field_name)
