"""The remote-signing provider's webhook: the result of an app-confirmed signature.

``POST /api/v1/remote-signing/callbacks/smartca`` takes the provider's notification
(the same ``data`` as its status answer: ``transaction_id``, ``tran_code``,
``status``, ``signatures[]``). It is authenticated by an HMAC-SHA256 of the raw body
with the secret shared with the provider, sent as ``X-Signature: sha256=<hex>`` and
compared in constant time. Refused, with nothing changed: a missing or wrong
signature (401), an unknown transaction or a ``tran_code`` that is not the one the
provider gave for it (404), a transaction already settled — a replayed or late
notification — (409). A confirmation completes every document of the transaction; a
rejection or expiry leaves them unsigned and the answer says so.

Configured per process as ``app.state.provider_webhook`` (a :class:`ProviderWebhook`);
without it the route answers 404. The polling job for providers that do not call
back (or callbacks that get lost) is ``hsm.remote.async_provider.poll_provider``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.problems import problem, status_for
from core.errors import HsbaError

if TYPE_CHECKING:
    from hsm.remote.async_provider import AppConfirmedSigning, Outcome

log = logging.getLogger("hsba.remote")

router = APIRouter(prefix="/api/v1/remote-signing/callbacks", tags=["remote signing"])

SIGNATURE_HEADER = "X-Signature"
MAX_BODY = 4 * 1024 * 1024
"""A notification carries one signature value per document: a few KB each."""


@dataclass(frozen=True)
class ProviderWebhook:
    """What the callback route needs (set on ``app.state.provider_webhook``)."""

    signing: AppConfirmedSigning
    secret: bytes
    """Shared with the provider; the notification body's HMAC-SHA256 key."""
    on_outcome: Callable[[Outcome], None] | None = None
    """Called (on a worker thread) with every settled outcome: the audit entry and the
    workflow's take-over of signed workflow documents (``api.remote.wiring``)."""


def sign_body(secret: bytes, body: bytes) -> str:
    """The ``X-Signature`` value for ``body`` (what the provider computes)."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def _refuse(status: int, code: str, vi: str, en: str) -> JSONResponse:
    log.info("provider callback refused", extra={"code": code})
    return problem(status, code, vi, en, instance=router.prefix)


_RESPONSES: dict[int | str, dict[str, str]] = {
    200: {"description": "Settled: completed, rejected or expired"},
    202: {"description": "The provider still waits for the signer"},
    400: {"description": "Malformed notification"},
    401: {"description": "Missing or wrong X-Signature"},
    404: {"description": "Unknown transaction, or callbacks not configured"},
    409: {"description": "Already settled: nothing changed"},
}


@router.post("/smartca", summary="Remote-signing provider result (webhook)",
             responses=_RESPONSES)
async def smartca_callback(request: Request) -> JSONResponse:
    hook: ProviderWebhook | None = getattr(request.app.state, "provider_webhook", None)
    if hook is None:
        return _refuse(404, "remote.callbacks_not_configured",
                       "Chưa cấu hình nhận kết quả từ nhà cung cấp ký số từ xa.",
                       "Remote-signing provider callbacks are not configured.")
    body = await request.body()
    given = request.headers.get(SIGNATURE_HEADER, "")
    if len(body) > MAX_BODY or not hmac.compare_digest(given.encode(),
                                                      sign_body(hook.secret, body).encode()):
        return _refuse(401, "remote.callback_unauthenticated",
                       "Chữ ký của thông báo không hợp lệ: thông báo bị từ chối.",
                       "The notification's signature is missing or wrong: refused.")
    try:
        payload = json.loads(body)
        data = payload.get("data") or {}
        transaction_id, tran_code = str(data["transaction_id"]), str(data["tran_code"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return _refuse(400, "remote.callback_malformed",
                       "Thông báo không đúng định dạng.", "The notification is malformed.")
    tx = hook.signing.store.load(transaction_id) \
        if transaction_id.replace("-", "").isalnum() else None
    if tx is None or not tx.tran_code or not hmac.compare_digest(tx.tran_code, tran_code):
        return _refuse(404, "remote.unknown_transaction",
                       "Không tìm thấy giao dịch ký từ xa.",
                       "Unknown remote signing transaction.")
    if tx.status != "pending":
        return _refuse(409, "remote.already_settled",
                       f"Giao dịch đã kết thúc ({tx.status}); thông báo lặp lại bị bỏ qua.",
                       f"The transaction is already settled ({tx.status}); "
                       "the repeated notification changes nothing.")
    try:
        outcome = await hook.signing.on_callback(payload)
    except HsbaError as e:
        return problem(status_for(e), e.code, e.message_vi, e.message_en,
                       instance=router.prefix)
    if outcome.status != "pending" and not outcome.settled_now:
        return _refuse(409, "remote.already_settled",  # the polling job settled it first
                       f"Giao dịch đã kết thúc ({outcome.status}); thông báo bị bỏ qua.",
                       f"The transaction is already settled ({outcome.status}); "
                       "the notification changes nothing.")
    if outcome.settled_now and hook.on_outcome is not None:
        # the workflow archives the signed documents: blocking work, off the event loop
        await run_in_threadpool(hook.on_outcome, outcome)
    log.info("provider callback", extra={"transaction_id": transaction_id,
                                         "status": outcome.status})
    return JSONResponse({
        "transaction_id": outcome.transaction_id, "status": outcome.status,
        "documents": [d.doc_id for d in tx.documents], "signed": sorted(outcome.signed),
        "sign_algo": outcome.sign_algo, "message_vi": outcome.message_vi,
        "message_en": outcome.message_en}, status_code=202 if outcome.status == "pending"
        else 200)
