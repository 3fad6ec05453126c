"""RFC 3161 time-stamping with several TSAs and failover.

pyHanko's :class:`~pyhanko.sign.timestamps.HTTPTimeStamper` sends a nonce and
checks it in the answer; :class:`FailoverTimeStamper` adds a check that the
token stamps the digest that was asked for, and tries each TSA in order. When
none answers it raises :class:`UnavailableError`: the signature is not
produced, nothing half-done comes back.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
import weakref
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

import aiohttp
from asn1crypto import cms
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper
from pyhanko.sign.timestamps.common_utils import extract_ts_certs

from core.errors import UnavailableError
from core.heap import collect_while_waiting

log = logging.getLogger(__name__)

__all__ = ["TSA_REQUEST_SENT", "FailoverTimeStamper", "TsaHttpClient", "http_timestampers",
           "timestamper_for"]

TSA_REQUEST_SENT: ContextVar[asyncio.Event | None] = ContextVar("hsba_tsa_request_sent",
                                                                 default=None)
"""An event the TSA client sets as a time-stamp request of this context (task) is
written to the connection (tasks waiting on it run once it has been): a caller can
then use the CPU while the TSA answers (``signer.lta_overlap``). Only
:class:`TsaHttpClient`'s own sessions report it; they also let the garbage collector
do its young work then (``core.heap.collect_while_waiting``)."""


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """One TLS client context per process (certifi's roots, as pyHanko uses)."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


class TsaHttpClient(HTTPTimeStamper):
    """pyHanko's ``HTTPTimeStamper`` with one keep-alive HTTP session per event loop.

    pyHanko opens a fresh aiohttp session per request (a timestamper outlives event
    loops), and with it a fresh TLS context loading the whole CA bundle (30-100 ms of
    CPU) and a new connection (for an HTTPS TSA, a TLS handshake: two round trips).
    Here the TLS context is built once per process and the session (its connection
    pool) once per event loop, closed when the loop shuts down (``asyncio.run``, or
    ``loop.shutdown_asyncgens()`` for a loop run by hand).
    """

    @asynccontextmanager
    async def _acquire_session(self) -> AsyncIterator[aiohttp.ClientSession]:
        if self._session is not None:
            async with super()._acquire_session() as session:
                yield session
            return
        yield await _loop_session()


# event loop -> (its session, the async generator that closes it with the loop)
_SESSIONS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[Any, Any]] = (
    weakref.WeakKeyDictionary())
SESSIONS_OPENED = [0]
"""How many TSA HTTP sessions this process opened (tests, metrics)."""


async def _loop_session() -> aiohttp.ClientSession:
    loop = asyncio.get_running_loop()
    entry = _SESSIONS.get(loop)
    if entry is not None and not entry[0].closed:
        return entry[0]  # type: ignore[no-any-return]
    trace = aiohttp.TraceConfig()
    trace.on_request_chunk_sent.append(_request_sent)
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=_tls_context()),
                                    trace_configs=[trace])
    SESSIONS_OPENED[0] += 1
    closer = _close_at_loop_shutdown(session)
    await closer.asend(None)  # registered with the loop: finalised by shutdown_asyncgens
    _SESSIONS[loop] = (session, closer)
    return session


async def _request_sent(_session: Any, _context: Any, _params: Any) -> None:
    """aiohttp calls this just before it writes the request, in the same turn of the
    event loop: whatever is scheduled here runs once the request has left."""
    event = TSA_REQUEST_SENT.get()
    if event is not None:
        event.set()
    collect_while_waiting()  # the collector's young work, during the round trip


async def _close_at_loop_shutdown(session: aiohttp.ClientSession) -> AsyncIterator[None]:
    try:
        yield
    finally:
        await session.close()


class FailoverTimeStamper(TimeStamper):
    """A pyHanko ``TimeStamper`` asking each TSA in turn until one answers correctly."""

    def __init__(self, timestampers: Sequence[TimeStamper]) -> None:
        super().__init__(include_nonce=True)  # type: ignore[no-untyped-call]
        if not timestampers:
            raise ValueError("FailoverTimeStamper needs at least one TSA")
        self.timestampers = tuple(timestampers)
        self.failures = 0
        """How many TSA attempts failed (for metrics)."""

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> cms.ContentInfo:
        errors: list[str] = []
        for index, tsa in enumerate(self.timestampers):
            try:
                token = await tsa.async_timestamp(message_digest, md_algorithm)
                _check_imprint(token, message_digest, md_algorithm)
            except (asyncio.CancelledError, KeyboardInterrupt):
                raise
            except Exception as e:  # noqa: BLE001 - any TSA failure: try the next one
                self.failures += 1
                errors.append(f"TSA #{index + 1}: {type(e).__name__}: {e}")
                log.warning("TSA #%d failed: %s", index + 1, type(e).__name__)
                continue
            for cert in extract_ts_certs(token, self.cert_registry):
                self._certs[cert.issuer_serial] = cert
            # a real token serves as well as a dummy for size estimation and for
            # collecting the TSA's validation paths: no extra request later
            self._dummy_response_cache.setdefault(md_algorithm, token)
            return token
        raise UnavailableError(
            "sign.tsa_unavailable",
            "Không máy chủ cấp dấu thời gian (TSA) nào trả lời; chữ ký chưa được tạo.",
            "No time-stamping authority (TSA) answered; the signature was not made.",
            details=errors,
        )


def _check_imprint(token: cms.ContentInfo, digest: bytes, md_algorithm: str) -> None:
    tst_info = token["content"]["encap_content_info"]["content"].parsed
    imprint = tst_info["message_imprint"]
    if (
        imprint["hashed_message"].native != digest
        or imprint["hash_algorithm"]["algorithm"].native != md_algorithm
    ):
        raise ValueError("timestamp token does not stamp the requested digest")


def http_timestampers(urls: Sequence[str], timeout_s: float = 10.0) -> list[TimeStamper]:
    """One pyHanko ``HTTPTimeStamper`` (nonce checked) per URL, in order."""
    return [TsaHttpClient(url, timeout=timeout_s) for url in urls]


def timestamper_for(timestampers: Sequence[TimeStamper]) -> TimeStamper | None:
    """The timestamper to hand to pyHanko: ``None``, the only one, or a failover chain.

    Build a :class:`FailoverTimeStamper` once per process and pass it in: it keeps
    the TSA certificates it has seen, saving a request per signature.
    """
    if not timestampers:
        return None
    if len(timestampers) == 1 and isinstance(timestampers[0], FailoverTimeStamper):
        return timestampers[0]
    # one chain per TSA list, so it keeps the TSA certificates and dummy token it
    # learnt (no extra TSA request per signature); HTTP clients are often built
    # fresh per request, so those are keyed by URL, others by identity (the cached
    # chain holds them, so an id cannot be reused while cached)
    key = tuple((t.url, t.timeout) if isinstance(t, HTTPTimeStamper)
                and type(t) in (HTTPTimeStamper, TsaHttpClient) else id(t)
                for t in timestampers)
    with _CHAINS_LOCK:
        chain = _CHAINS.get(key)
        if chain is None:
            if len(_CHAINS) > 16:
                _CHAINS.clear()
            chain = _CHAINS[key] = FailoverTimeStamper(timestampers)
    return chain


_CHAINS: dict[tuple[object, ...], FailoverTimeStamper] = {}
_CHAINS_LOCK = threading.Lock()
