"""B-LTA with the document time-stamp's revision prepared while the signature
time-stamp is on its way (``signer.lta_overlap``, issue 12 latency), against the
shared test TSA over real HTTP; the in-process TSA takes the sequential path."""

from __future__ import annotations

import asyncio
import hashlib
import time
from io import BytesIO
from typing import Any

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.timestamps import DummyTimeStamper

from signer import lta_overlap
from signer.lta_overlap import _check_only_contents_differ, _NotAligned
from signer.request import SignRequest
from signer.sign import async_sign_pdf, sign_pdf
from tests.signer import checks


def _request(level: str = "B-LTA") -> SignRequest:
    return SignRequest("doctor", "Nguyễn Văn An", role="Bác sĩ điều trị", level=level)


@pytest.mark.services
def test_http_tsa_blta_is_overlapped_and_validates(signer_pki: Any, form_pdf: bytes) -> None:
    before = list(lta_overlap.OVERLAPPED)
    out = sign_pdf(form_pdf, _request(), signer=signer_pki.signer("doctor-rsa"),
                   timestampers=[signer_pki.timestamper()], revocation=signer_pki.revocation())
    assert lta_overlap.OVERLAPPED[0] == before[0] + 1  # the overlapped path was taken
    assert lta_overlap.OVERLAPPED[1] == before[1]
    reader = PdfFileReader(BytesIO(out))
    assert len(reader.embedded_signatures) == 2  # the signature, the document timestamp
    doc_ts = reader.embedded_signatures[-1]
    assert doc_ts.sig_object["/Type"] == "/DocTimeStamp"
    # the document time-stamp stamps exactly its byte range of the final bytes
    start, length, end, tail = (int(x) for x in doc_ts.sig_object["/ByteRange"])
    digest = hashlib.sha256(out[start:start + length] + out[end:end + tail]).digest()
    tst = doc_ts.signed_data["encap_content_info"]["content"].parsed
    assert tst["message_imprint"]["hashed_message"].native == digest
    checks.assert_ades_passed(out, signer_pki.root, "B-LTA", 1)


@pytest.mark.services
def test_document_timestamp_is_prepared_while_the_tsa_answers(
        signer_pki: Any, form_pdf: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the TSA slowed down, the document time-stamp's revision is built between
    the signature time-stamp's request and its answer, not after the answer."""
    tsa = signer_pki.timestamper()
    inner = tsa.timestampers[0]
    events: list[tuple[str, float]] = []
    real = inner.async_timestamp

    async def slow(digest: bytes, md: str) -> Any:
        events.append(("asked", time.perf_counter()))
        token = await real(digest, md)  # the request leaves at once...
        await asyncio.sleep(0.3)  # ...the answer takes long: a slow TSA
        events.append(("answered", time.perf_counter()))
        return token

    prepare = lta_overlap._AfterSignature.prepare

    async def prepared(self: Any, writer: Any) -> None:
        await prepare(self, writer)
        events.append(("revision prepared", time.perf_counter()))

    signer = signer_pki.signer("doctor-rsa")
    rev = signer_pki.revocation()
    asyncio.run(async_sign_pdf(form_pdf, _request(), signer=signer, timestampers=[tsa],
                               revocation=rev))  # warm: dummy token, reservation, OCSP
    monkeypatch.setattr(inner, "async_timestamp", slow)
    monkeypatch.setattr(lta_overlap._AfterSignature, "prepare", prepared)
    events.clear()
    out = asyncio.run(async_sign_pdf(form_pdf, _request(), signer=signer,
                                     timestampers=[tsa], revocation=rev))
    assert [e for e, _ in events] == ["asked", "revision prepared", "answered",
                                      "asked", "answered"]
    checks.assert_ades_passed(out, signer_pki.root, "B-LTA", 1)


@pytest.mark.services
def test_in_process_tsa_takes_the_sequential_path(signer_pki: Any, form_pdf: bytes) -> None:
    """No HTTP request: nothing to overlap; the result is the same B-LTA file shape."""
    pki = signer_pki.pki
    stamper = DummyTimeStamper(tsa_cert=pki.cert("tsa"), tsa_key=pki.private_key("tsa"),
                               certs_to_embed=pki.chain("tsa"))
    before = list(lta_overlap.OVERLAPPED)
    out = sign_pdf(form_pdf, _request(), signer=signer_pki.signer("doctor-rsa"),
                   timestampers=[stamper], revocation=signer_pki.revocation())
    assert lta_overlap.OVERLAPPED[1] == before[1] + 1
    assert lta_overlap.OVERLAPPED[0] == before[0]
    assert len(PdfFileReader(BytesIO(out)).embedded_signatures) == 2


def test_signed_bytes_must_differ_only_inside_the_contents() -> None:
    head = b"%PDF-1.7\n" + b"x" * 40  # 49 bytes
    placeholder = head + b"<" + b"0" * 18 + b">" + b" /ByteRange [0 49 69 40]\n%%EOF\n"
    # the last /ByteRange gives the signature's /Contents: bytes [49, 69)
    filled = bytearray(placeholder)
    filled[50:68] = b"ab" * 9
    _check_only_contents_differ(placeholder, bytes(filled))
    outside = bytearray(filled)
    outside[10] = ord("z")
    with pytest.raises(_NotAligned):
        _check_only_contents_differ(placeholder, bytes(outside))
    with pytest.raises(_NotAligned):
        _check_only_contents_differ(placeholder, bytes(filled) + b"\n")
