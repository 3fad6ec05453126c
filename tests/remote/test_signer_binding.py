"""Raw-PDF remote-signing requests are bound to ONE clinician's subscriber id.

hsba over real HTTP on the real PostgreSQL (accounts, subscriber bindings, pending
transactions, audit chain), with the SmartCA-shaped provider DOUBLE of
``provider_double.py`` (the real VNPT/Viettel services cannot be reached from here; the
double knows one subscriber, :data:`provider_double.USER_ID`, and logs every call it
receives in ``requests``). Two hospitals are seeded; each one's administrator binds its
own clinician to the subscriber id through the API.

- A hospital system (integration client) names the clinician (``signer_account_id``):
  the request goes under the clinician's bound id (also when ``user_id`` is omitted),
  the transaction and the audit record the clinician, the signed PDF carries the
  clinician's name and the provider's certificate.
- Another ``user_id``, an unbound clinician, another hospital's clinician, a clinician
  without the ``sign`` right, no clinician named, workflow documents: refused with a
  vi/en error before anything is stored or sent (no transaction row, the provider is
  not called).
- A clinician asking for their own signature of raw PDFs: only under their own bound id,
  never for someone else.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest
from provider_double import USER_ID, ProviderDouble
from remote_hsba import OTHER_TENANT, bearer_headers, remote_hsba
from test_async_provider import assert_signed

from tests.loopback import LoopbackServer

pytestmark = pytest.mark.services

SECRET = "test-only webhook secret for signer binding"
OTHER_USER_ID = "001099000111"  # another made-up CCCD-shaped subscriber id


@dataclass
class Hsba:
    services: Any
    base: str
    double: ProviderDouble
    auth: dict[str, dict[str, str]]
    """bearer headers: his, other_his (another hospital's system), clinician, head,
    admin, other_admin"""
    ids: dict[str, str]
    """account ids: clinician, head (never bound), cashier, other_clinician"""
    names: dict[str, str]


@pytest.fixture(scope="module")
def hsba(test_services: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hsba]:
    from api.app import create_app
    from workflow.seeding import seed_demo

    with remote_hsba(test_services, tmp_path_factory.mktemp("signer-binding"),
                     webhook_secret=SECRET, prefix="hsba_sb_") as r, \
            LoopbackServer(create_app(r.services.settings, services=r.services)) as api:
        his = next(x for x in seed_demo(r.services) if x.kind == "client")
        other_his = next(x for x in seed_demo(r.services, tenant=OTHER_TENANT)
                         if x.kind == "client")

        def account(login: Any) -> Any:
            return r.services.accounts.find("staff", login.username)

        h = Hsba(r.services, api.url, r.double, {
            "his": bearer_headers(api.url, his), "other_his": bearer_headers(api.url, other_his),
            "clinician": bearer_headers(api.url, r.logins["clinician"]),
            "head": bearer_headers(api.url, r.logins["head_of_department"]),
            "admin": bearer_headers(api.url, r.logins["admin"]),
            "other_admin": bearer_headers(api.url, r.other["admin"])}, {
            "clinician": account(r.logins["clinician"]).id,
            "head": account(r.logins["head_of_department"]).id,
            "cashier": account(r.logins["cashier"]).id,
            "other_clinician": account(r.other["clinician"]).id}, {
            "clinician": account(r.logins["clinician"]).display_name})
        _bind(h, "admin", h.ids["clinician"])
        _bind(h, "other_admin", h.ids["other_clinician"])
        yield h


def _bind(h: Hsba, admin: str, account_id: str) -> None:
    r = httpx.put(f"{h.base}/api/v1/remote-signing/subscribers/{account_id}",
                  headers=h.auth[admin], json={"user_id": USER_ID}, timeout=60)
    assert r.status_code == 200, r.text


def _raw(pdf: bytes, doc_id: str) -> dict[str, Any]:
    return {"doc_id": doc_id, "pdf_b64": base64.b64encode(pdf).decode(),
            "field_name": "BacSi", "reason": "Ký kết quả xét nghiệm"}


def _ask(h: Hsba, who: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{h.base}/api/v1/remote-signing/requests", headers=h.auth[who],
                      json=body, timeout=120)


def _stored(h: Hsba) -> int:
    from sqlalchemy import func, select

    from api.remote.pending_db import remote_pending_transactions

    with h.services.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(
            remote_pending_transactions)).scalar_one())


def _audit(h: Hsba, **match: Any) -> list[Any]:
    return [e for e in h.services.audit.entries(limit=100_000)
            if all(e.details.get(k) == v for k, v in match.items())]


def _refused(h: Hsba, who: str, body: dict[str, Any], status: int, code: str) -> Any:
    """The request is refused with ``status``/``code`` and vi/en messages; nothing is
    stored and the provider hears nothing."""
    stored, calls = _stored(h), len(h.double.requests)
    r = _ask(h, who, body)
    assert r.status_code == status and r.json()["code"] == code, r.text
    assert r.json()["message_vi"] and r.json()["message_en"]
    assert r.json()["message_vi"] != r.json()["message_en"]
    assert _stored(h) == stored  # no transaction row
    assert len(h.double.requests) == calls  # the provider was not called at all
    return r.json()


def test_a_hospital_systems_request_goes_under_the_named_clinicians_bound_id(
        hsba: Hsba, one_pdf: bytes, tmp_path: Path) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader

    h = hsba
    calls = len(h.double.requests)
    r = _ask(h, "his", {"signer_account_id": h.ids["clinician"],
                        "documents": [_raw(one_pdf, "xn-1")]})  # no user_id: the binding
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "pending" and body["signer_account_id"] == h.ids["clinician"]
    seen = h.double.requests[calls:]
    assert [c["path"] for c in seen] == ["/v1/credentials/get_certificate",
                                         "/v1/signatures/sign"]
    assert {c["user_id"] for c in seen} == {USER_ID}  # the provider sees the bound id
    tx_id = body["transaction_id"]
    requested = _audit(h, remote_transaction=tx_id, stage="requested")
    assert len(requested) == 1
    assert requested[0].actor_id != h.ids["clinician"]  # the hospital system asked ...
    assert requested[0].details["signer_account"] == h.ids["clinician"]  # ... for her
    assert requested[0].details["on_behalf"] is True
    assert USER_ID not in str(requested[0].details)  # never the subscriber id

    tran_code = next(c for c, t in h.double.transactions.items()
                     if t["transaction_id"] == tx_id)
    h.double.confirm(tran_code)
    hook = f"{h.base}/api/v1/remote-signing/callbacks/smartca"
    assert h.double.notify(tran_code, hook, SECRET.encode()).status_code == 200
    state = httpx.get(f"{h.base}/api/v1/remote-signing/requests/{tx_id}",
                      headers=h.auth["his"], timeout=60)
    assert state.status_code == 200, state.text
    assert state.json()["status"] == "completed"
    assert state.json()["signer_account_id"] == h.ids["clinician"]
    settled = _audit(h, remote_transaction=tx_id, stage="settled")
    assert [e.details["signer_account"] for e in settled] == [h.ids["clinician"]]
    pdf = base64.b64decode(state.json()["signed"]["xn-1"])
    assert_signed(h.double, pdf, tmp_path / "xn-1.pdf")
    sig = PdfFileReader(BytesIO(pdf)).embedded_signatures[0]
    assert str(sig.sig_object["/Name"]) == h.names["clinician"]
    # only the system that asked reads it, not even the clinician's own token
    other = httpx.get(f"{h.base}/api/v1/remote-signing/requests/{tx_id}",
                      headers=h.auth["clinician"], timeout=60)
    assert other.status_code == 404 and "signed" not in other.json()


def test_the_clinicians_own_id_given_explicitly_is_accepted(hsba: Hsba,
                                                             one_pdf: bytes) -> None:
    h = hsba
    r = _ask(h, "his", {"signer_account_id": h.ids["clinician"], "user_id": USER_ID,
                        "signer_name": f"  {h.names['clinician']} ",
                        "documents": [_raw(one_pdf, "xn-2")]})
    assert r.status_code == 202, r.text
    assert h.double.requests[-1]["user_id"] == USER_ID


def test_another_subscriber_id_than_the_clinicians_is_refused(hsba: Hsba,
                                                              one_pdf: bytes) -> None:
    h = hsba
    before = len(_audit(h, reason="subscriber_not_yours"))
    _refused(h, "his", {"signer_account_id": h.ids["clinician"], "user_id": OTHER_USER_ID,
                        "documents": [_raw(one_pdf, "xn-3")]},
             403, "remote.subscriber_not_yours")
    refusals = _audit(h, reason="subscriber_not_yours")
    assert len(refusals) == before + 1
    assert refusals[-1].details["signer_account"] == h.ids["clinician"]
    assert OTHER_USER_ID not in str(refusals[-1].details)


def test_an_unbound_clinician_is_refused(hsba: Hsba, one_pdf: bytes) -> None:
    h = hsba
    for user_id in (None, USER_ID):
        body = {"signer_account_id": h.ids["head"], "documents": [_raw(one_pdf, "xn-4")]}
        if user_id:
            body["user_id"] = user_id
        _refused(h, "his", body, 403, "remote.subscriber_not_bound")


def test_another_hospitals_clinician_is_not_found(hsba: Hsba, one_pdf: bytes) -> None:
    h = hsba
    before = len(_audit(h, reason="cross_tenant"))
    theirs = _refused(h, "his", {"signer_account_id": h.ids["other_clinician"],
                                 "user_id": USER_ID, "documents": [_raw(one_pdf, "xn-5")]},
                      404, "remote.signer_not_found")
    unknown = _refused(h, "his", {"signer_account_id": "0" * 32,
                                  "documents": [_raw(one_pdf, "xn-5")]},
                       404, "remote.signer_not_found")
    assert theirs == unknown  # the other hospital's account is not confirmed to exist
    assert len(_audit(h, reason="cross_tenant")) == before + 1
    # and from the other side: their hospital system cannot reach our clinician
    _refused(h, "other_his", {"signer_account_id": h.ids["clinician"],
                              "documents": [_raw(one_pdf, "xn-5")]},
             404, "remote.signer_not_found")


def test_a_hospital_system_must_name_a_clinician_who_may_sign(hsba: Hsba,
                                                              one_pdf: bytes) -> None:
    h = hsba
    docs = [_raw(one_pdf, "xn-6")]
    _refused(h, "his", {"user_id": USER_ID, "documents": docs},
             422, "remote.signer_required")
    _refused(h, "his", {"signer_account_id": h.ids["cashier"], "documents": docs},
             403, "remote.signer_may_not_sign")
    _refused(h, "his", {"signer_account_id": h.ids["clinician"],
                        "signer_name": "Người khác", "documents": docs},
             422, "remote.signer_name_mismatch")
    _refused(h, "his", {"signer_account_id": h.ids["clinician"], "documents": [
        {"document_id": "abc", "if_match": "0" * 64}]},
             403, "remote.workflow_needs_clinician")


def test_a_clinician_signs_raw_pdfs_only_under_their_own_bound_id(
        hsba: Hsba, one_pdf: bytes) -> None:
    h = hsba
    docs = [_raw(one_pdf, "kq-1")]
    _refused(h, "clinician", {"user_id": OTHER_USER_ID, "documents": docs},
             403, "remote.subscriber_not_yours")
    _refused(h, "clinician", {"signer_account_id": h.ids["head"], "documents": docs},
             403, "remote.signer_not_caller")
    _refused(h, "head", {"documents": docs}, 403, "remote.subscriber_not_bound")
    r = _ask(h, "clinician", {"documents": docs})  # no user_id: their binding
    assert r.status_code == 202, r.text
    assert r.json()["signer_account_id"] == h.ids["clinician"]
    assert h.double.requests[-1]["user_id"] == USER_ID
    requested = _audit(h, remote_transaction=r.json()["transaction_id"], stage="requested")
    assert requested[0].actor_id == h.ids["clinician"]
    assert requested[0].details["on_behalf"] is False
