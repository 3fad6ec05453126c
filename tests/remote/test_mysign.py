"""App-confirmed signing through the MySign-shaped client (``hsm.remote.mysign``)
against its provider DOUBLE (``mysign_double.py``; Viettel's service cannot be reached
from here) over real HTTP: several documents under one confirmation, validated; one
login per subscriber and hour; rejection, a revoked certificate (13004) and expiry
leave the documents unsigned; a new process (fresh token cache) finishes a pending
transaction from the store."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest
from mysign_double import CLIENT_ID, CLIENT_SECRET, USER_ID, MySignDouble
from pyhanko.pdf_utils.reader import PdfFileReader
from test_async_provider import assert_signed

from hsm.remote.async_provider import AppConfirmedSigning, DocumentToSign, FilePendingStore
from hsm.remote.mysign import MySignClient
from tests.loopback import LoopbackServer


@pytest.fixture(scope="module")
def mysign(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MySignDouble, str]]:
    double = MySignDouble(tmp_path_factory.mktemp("mysign-pki"))
    with LoopbackServer(double.app) as server:
        yield double, server.url


def _signing(url: str, store: Path) -> AppConfirmedSigning:
    return AppConfirmedSigning(MySignClient(url, CLIENT_ID, CLIENT_SECRET),
                               FilePendingStore(store))


def test_several_documents_one_confirmation(mysign: tuple[MySignDouble, str], one_pdf: bytes,
                                            tmp_path: Path) -> None:
    double, url = mysign
    logins = double.logins
    signing = _signing(url, tmp_path / "pending")
    tx = asyncio.run(signing.request(USER_ID, [DocumentToSign(f"d{i}", one_pdf, "BacSi")
                                               for i in range(3)]))
    code = tx.tran_code
    assert [d["document_id"] for d in double.requests[code]["documents"]] == ["d0", "d1", "d2"]
    assert asyncio.run(signing.complete(tx.transaction_id)).status == "pending"  # 4000
    double.confirm(code)
    outcome = asyncio.run(signing.complete(tx.transaction_id))
    assert outcome.status == "completed" and sorted(outcome.signed) == ["d0", "d1", "d2"]
    assert outcome.sign_algo == "sha256_rsa"
    for doc_id, pdf in outcome.signed.items():
        assert_signed_mysign(double, pdf, tmp_path / f"{doc_id}.pdf")
    assert double.logins == logins + 1  # one login, the token reused for every call


def assert_signed_mysign(double: MySignDouble, pdf: bytes, path: Path) -> None:
    assert_signed(double, pdf, path)  # type: ignore[arg-type]  # same .cert/.pki shape
    assert PdfFileReader(BytesIO(pdf)).embedded_signatures[0].signer_cert.dump() \
        == double.cert.dump()


@pytest.mark.parametrize(("status", "expected"), [(4002, "rejected"), (13004, "rejected"),
                                                  (4003, "expired")])
def test_refusals_leave_documents_unsigned(mysign: tuple[MySignDouble, str], one_pdf: bytes,
                                           tmp_path: Path, status: int, expected: str) -> None:
    double, url = mysign
    signing = _signing(url, tmp_path / "pending")
    tx = asyncio.run(signing.request(USER_ID, [DocumentToSign("d", one_pdf, "BacSi")]))
    double.set_status(tx.tran_code, status)
    outcome = asyncio.run(signing.complete(tx.transaction_id))
    assert outcome.status == expected and outcome.signed == {}
    assert "NOT signed" in outcome.message_en
    double.confirm(tx.tran_code)  # too late: nothing changes
    assert asyncio.run(signing.complete(tx.transaction_id)).status == expected


def test_a_new_process_finishes_from_the_store(mysign: tuple[MySignDouble, str],
                                               one_pdf: bytes, tmp_path: Path) -> None:
    double, url = mysign
    tx = asyncio.run(_signing(url, tmp_path / "pending").request(
        USER_ID, [DocumentToSign("d", one_pdf, "BacSi")]))
    double.confirm(tx.tran_code)
    logins = double.logins
    outcome = asyncio.run(_signing(url, tmp_path / "pending").complete(tx.transaction_id))
    assert outcome.status == "completed" and double.logins == logins + 1  # logged in again
    assert_signed_mysign(double, outcome.signed["d"], tmp_path / "d.pdf")
