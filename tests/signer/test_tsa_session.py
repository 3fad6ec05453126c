"""The HTTP TSA client keeps one keep-alive session per event loop (for an HTTPS TSA a
new connection is a TLS handshake: two more round trips per timestamp), closed with
the loop. Real TSA over HTTP (the shared test PKI)."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from signer import timestamps

pytestmark = pytest.mark.services


def test_timestamps_in_one_loop_share_one_session_closed_with_the_loop(signer_pki) -> None:
    tsa = timestamps.TsaHttpClient(signer_pki.tsa_url(), timeout=5)

    async def two_timestamps() -> object:
        for n in (1, 2):
            token = await tsa.async_timestamp(hashlib.sha256(bytes([n])).digest(), "sha256")
            assert token["content"]["encap_content_info"]["content_type"].native == "tst_info"
        return timestamps._SESSIONS[asyncio.get_running_loop()][0]

    before = timestamps.SESSIONS_OPENED[0]
    session = asyncio.run(two_timestamps())
    assert timestamps.SESSIONS_OPENED[0] == before + 1
    assert session.closed  # asyncio.run shut the loop down: the session went with it
    asyncio.run(two_timestamps())  # a new loop gets its own session
    assert timestamps.SESSIONS_OPENED[0] == before + 2
