"""The provider's webhook (``api.routes.provider_callbacks``) over real HTTP, fed by the
SmartCA-shaped provider DOUBLE (``provider_double.py``; the real providers cannot be
reached from here): a signed notification completes every document of the
transaction; a missing or wrong HMAC, an unknown transaction, a ``tran_code`` that is
not the transaction's, and a replayed notification are refused with nothing changed;
a rejection leaves the documents unsigned and says so."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from provider_double import SP_ID, SP_PASSWORD, USER_ID, LoopbackServer, ProviderDouble
from test_async_provider import assert_signed

from api.routes.provider_callbacks import ProviderWebhook, router
from hsm.remote.async_provider import (
    AppConfirmedSigning,
    DocumentToSign,
    FilePendingStore,
    Outcome,
    SmartCaClient,
)

SECRET = b"test-only shared webhook secret"


class Hsba:
    def __init__(self, provider_url: str, store: Path) -> None:
        self.store = FilePendingStore(store)
        self.signing = AppConfirmedSigning(SmartCaClient(provider_url, SP_ID, SP_PASSWORD),
                                           self.store)
        self.settled: list[Outcome] = []
        self.app = FastAPI()
        self.app.include_router(router)
        self.app.state.provider_webhook = ProviderWebhook(self.signing, SECRET,
                                                          self.settled.append)


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ProviderDouble, str]]:
    double = ProviderDouble(tmp_path_factory.mktemp("double-pki"))
    with LoopbackServer(double.app) as server:
        yield double, server.url


@pytest.fixture()
def hsba(provider: tuple[ProviderDouble, str], tmp_path: Path) -> Iterator[tuple[Hsba, str]]:
    side = Hsba(provider[1], tmp_path / "pending")
    with LoopbackServer(side.app) as server:
        yield side, f"{server.url}/api/v1/remote-signing/callbacks/smartca"


def test_a_signed_notification_completes_every_document(
        provider: tuple[ProviderDouble, str], hsba: tuple[Hsba, str], one_pdf: bytes,
        tmp_path: Path) -> None:
    double, _ = provider
    side, hook = hsba
    tx = asyncio.run(side.signing.request(USER_ID, [DocumentToSign(f"d{i}", one_pdf, "BacSi")
                                                    for i in range(3)]))
    double.confirm(tx.tran_code)
    r = double.notify(tx.tran_code, hook, SECRET)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "completed" and body["signed"] == ["d0", "d1", "d2"]
    assert body["sign_algo"] == "sha256_rsa"
    assert [o.status for o in side.settled] == ["completed"]
    for doc_id, pdf in side.settled[0].signed.items():
        assert_signed(double, pdf, tmp_path / f"{doc_id}.pdf")
    stored = side.store.load(tx.transaction_id)
    assert stored is not None and stored.status == "completed"
    # the same notification again (a replay, or the provider's retry): refused, unchanged
    again = double.notify(tx.tran_code, hook, SECRET)
    assert again.status_code == 409 and again.json()["code"] == "remote.already_settled"
    assert side.store.load(tx.transaction_id) == stored and len(side.settled) == 1


def test_unauthenticated_or_unknown_notifications_change_nothing(
        provider: tuple[ProviderDouble, str], hsba: tuple[Hsba, str], one_pdf: bytes) -> None:
    double, _ = provider
    side, hook = hsba
    tx = asyncio.run(side.signing.request(USER_ID, [DocumentToSign("d", one_pdf, "BacSi")]))
    double.confirm(tx.tran_code)
    before = side.store.load(tx.transaction_id)
    body = json.dumps(double.notification(tx.tran_code)).encode()

    def post(content: bytes, signature: str | None) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["X-Signature"] = signature
        return httpx.post(hook, content=content, headers=headers)

    def good(content: bytes) -> str:
        return "sha256=" + hmac.new(SECRET, content, hashlib.sha256).hexdigest()

    assert post(body, None).status_code == 401  # no signature
    assert post(body, "sha256=" + "0" * 64).status_code == 401  # wrong signature
    wrong_key = "sha256=" + hmac.new(b"another secret", body, hashlib.sha256).hexdigest()
    assert post(body, wrong_key).status_code == 401
    tampered = body.replace(b'"confirmed"', b'"rejected"')
    assert post(tampered, good(body)).status_code == 401  # body changed after signing
    r = post(body, good(body) + "00")
    assert r.status_code == 401 and r.json()["code"] == "remote.callback_unauthenticated"
    unknown = json.loads(body)
    unknown["data"]["transaction_id"] = "f" * 32
    raw = json.dumps(unknown).encode()
    r = post(raw, good(raw))
    assert r.status_code == 404 and r.json()["code"] == "remote.unknown_transaction"
    other_code = json.loads(body)
    other_code["data"]["tran_code"] = "not-the-providers-code"
    raw = json.dumps(other_code).encode()
    assert post(raw, good(raw)).status_code == 404
    assert post(b"{not json", good(b"{not json")).status_code == 400
    assert side.store.load(tx.transaction_id) == before and side.settled == []
    # the genuine notification still completes it
    assert post(body, good(body)).json()["status"] == "completed"


def test_a_rejection_leaves_the_documents_unsigned(
        provider: tuple[ProviderDouble, str], hsba: tuple[Hsba, str], one_pdf: bytes) -> None:
    double, _ = provider
    side, hook = hsba
    tx = asyncio.run(side.signing.request(USER_ID, [DocumentToSign("a", one_pdf, "BacSi"),
                                                    DocumentToSign("b", one_pdf, "BacSi")]))
    r = double.notify(tx.tran_code, hook, SECRET)  # still waiting: nothing settled
    assert r.status_code == 202 and r.json()["status"] == "pending"
    double.reject(tx.tran_code)
    body = double.notify(tx.tran_code, hook, SECRET).json()
    assert body["status"] == "rejected" and body["signed"] == []
    assert body["documents"] == ["a", "b"]
    assert "KHÔNG" in body["message_vi"] and "NOT signed" in body["message_en"]
    assert side.settled[0].signed == {}
    double.confirm(tx.tran_code)  # a confirmation after the rejection changes nothing
    assert double.notify(tx.tran_code, hook, SECRET).status_code == 409
    assert side.store.load(tx.transaction_id).status == "rejected"  # type: ignore[union-attr]


def test_without_configuration_the_route_refuses() -> None:
    app = FastAPI()
    app.include_router(router)
    with LoopbackServer(app) as server:
        r = httpx.post(f"{server.url}/api/v1/remote-signing/callbacks/smartca",
                       content=b"{}", headers={"X-Signature": "sha256=00"})
    assert r.status_code == 404
    assert r.json()["code"] == "remote.callbacks_not_configured"


def test_installed_on_the_embedded_default_polls_when_no_webhook_comes(
        provider: tuple[ProviderDouble, str], one_pdf: bytes, tmp_path: Path) -> None:
    """``api.remote.wiring`` on a real embedded hsba (SQLite): the file store under the
    data directory, the webhook configured on the app, the polling job on the in-process
    scheduler; a confirmation whose notification never arrives is settled by the job,
    which then waits ``every_s`` before its next pass."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.remote.wiring import install_app_confirmed_signing
    from core.settings import Settings
    from workflow.services import Services

    double, url = provider
    settings = Settings(env="test", data_dir=tmp_path, hospital_code="70001", database_url="",
                        store="fs", keystore="software", pki="dev", tsa_urls=[])
    services = Services.from_settings(settings)
    try:
        app = create_app(settings, services=services)  # hsba's app mounts the route
        signing, job = install_app_confirmed_signing(
            app, services, SmartCaClient(url, SP_ID, SP_PASSWORD), webhook_secret=SECRET,
            poll_older_than_s=0, poll_every_s=3600)
        assert isinstance(signing.store, FilePendingStore)
        assert signing.store.dir == tmp_path / "remote-pending"
        assert app.state.provider_webhook.signing is signing
        assert ("remote_signing_poll", job) in services.scheduler._jobs
        r = TestClient(app).post("/api/v1/remote-signing/callbacks/smartca", content=b"{}",
                                 headers={"X-Signature": "sha256=00"})
        assert r.status_code == 401 and r.json()["code"] == "remote.callback_unauthenticated"
        tx = asyncio.run(signing.request(USER_ID, [DocumentToSign("d", one_pdf, "BacSi")]))
        double.confirm(tx.tran_code)
        outcomes = job()
        assert [(o.transaction_id, o.status, o.settled_now) for o in outcomes] == [
            (tx.transaction_id, "completed", True)]
        assert job() == []  # within every_s: no second pass
        # completed at PAdES B-T with the service's (development) TSA
        from io import BytesIO

        from pyhanko.pdf_utils.reader import PdfFileReader
        sig = PdfFileReader(BytesIO(outcomes[0].signed["d"])).embedded_signatures[0]
        assert "signature_time_stamp_token" in [
            a["type"].native for a in sig.signer_info["unsigned_attrs"]]
    finally:
        services.close()
