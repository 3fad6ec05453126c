"""Two clinicians signing the same document at the same moment.

Each signature is an incremental update of the version it was computed on.
If another signature landed first, the base version changed: the later signer
re-applies its signature on the newer version (the comparison is on the base
version's sha256) instead of overwriting it. No signature is lost, the
document never forks.

The version store is an interface (:class:`DocumentVersions`): ``workflow/``
implements it over the records index (compare-and-swap on the current
version); :class:`InMemoryDocumentVersions` serves tests and single-process use.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from typing import Protocol

from pyhanko.sign.signers import Signer
from pyhanko.sign.timestamps import TimeStamper

from core.errors import Conflict
from signer.request import SignRequest
from signer.revocation import RevocationSource
from signer.sign import async_sign_pdf

log = logging.getLogger(__name__)

__all__ = ["DocumentVersions", "InMemoryDocumentVersions", "async_sign_latest"]


class DocumentVersions(Protocol):
    """The current version of one document, replaced only if unchanged."""

    async def current(self) -> bytes:
        """The latest version's bytes."""
        ...

    async def replace_if_current(self, base_sha256: str, new_pdf: bytes) -> bool:
        """Store ``new_pdf`` as the next version iff the latest version's sha256 is
        still ``base_sha256``; ``False`` (nothing stored) otherwise. Atomic."""
        ...


class InMemoryDocumentVersions:
    """Versions kept in memory, compare-and-swap under a lock (threads or tasks)."""

    def __init__(self, pdf: bytes) -> None:
        self._lock = threading.Lock()
        self.versions: list[bytes] = [pdf]
        self.rejected = 0
        """Replacements refused because the base had changed (a re-apply followed)."""

    async def current(self) -> bytes:
        with self._lock:
            return self.versions[-1]

    async def replace_if_current(self, base_sha256: str, new_pdf: bytes) -> bool:
        with self._lock:
            if hashlib.sha256(self.versions[-1]).hexdigest() != base_sha256:
                self.rejected += 1
                return False
            self.versions.append(new_pdf)
            return True


async def async_sign_latest(
    versions: DocumentVersions,
    request: SignRequest,
    *,
    signer: Signer,
    timestampers: Sequence[TimeStamper] = (),
    revocation: RevocationSource | None = None,
    max_attempts: int = 20,
) -> bytes:
    """Sign the latest version; if it changed meanwhile, sign the newer one again.

    Returns the version stored. Raises :class:`Conflict` if the document kept
    changing for ``max_attempts`` rounds (or the field was signed by someone else:
    ``sign.field_already_signed``).
    """
    for attempt in range(1, max_attempts + 1):
        base = await versions.current()
        base_sha256 = hashlib.sha256(base).hexdigest()
        signed = await async_sign_pdf(base, request, signer=signer,
                                      timestampers=timestampers, revocation=revocation)
        if await versions.replace_if_current(base_sha256, signed):
            if attempt > 1:
                log.info("signature re-applied on a newer version (attempt %d) field=%s",
                         attempt, request.field_name)
            return signed
    raise Conflict(
        "sign.document_busy",
        "Văn bản liên tục thay đổi trong khi ký; vui lòng thử lại.",
        "The document kept changing while signing; please retry.",
        details={"attempts": max_attempts},
    )
