"""Signing with the clinician's app-confirmed remote key from the web pages.

When a provider is configured (``app.state.remote_signing``) and the logged-in
clinician's account is bound to a provider subscriber id (``api.remote.subscribers``),
the document page and the inbox's selection offer "sign with my remote key (confirm on my
phone)" beside the HSM form. Submitting (CSRF-protected) creates ONE provider
transaction for the selected documents, bound to the versions (sha256) the clinician
saw, through the same code as ``POST /api/v1/remote-signing/requests``
(:func:`api.remote.requests.ask_remote_signature`); the waiting page then polls the
transaction's per-document states (``remote.js``). Only the clinician who asked sees
the waiting page and its status (404 for anyone else, as the API does).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.deps import DocId
from api.web.common import blocking, page, services_of
from api.web.i18n import pick
from api.web.session import check_csrf, lang_of, principal_of, render
from core.errors import Conflict, Forbidden, InvalidInput, NotFound

router = APIRouter(prefix="/web", include_in_schema=False)

MAX_DOCUMENTS = 50

#: the remote-signing texts (vi, en)
TEXT: dict[str, tuple[str, str]] = {
    "button": ("Ký bằng chữ ký số từ xa (xác nhận trên điện thoại)",
               "Sign with my remote key (confirm on my phone)"),
    "title": ("Ký số từ xa: chờ xác nhận", "Remote signing: waiting for confirmation"),
    "awaiting_confirmation": ("Chờ xác nhận", "Awaiting confirmation"),
    "archiving": ("Đã xác nhận; đang lưu trữ…", "Confirmed; archiving…"),
    "archived": ("Đã ký và lưu trữ", "Signed and archived"),
    "refused": ("Không ký", "Not signed"),
    "not_signed": ("Không có tài liệu nào được ký", "Nothing was signed"),
    "pending": ("Đang chờ xác nhận trong ứng dụng trên điện thoại (hết hạn lúc {expires}).",
                "Waiting for confirmation in the phone app (expires at {expires})."),
    "completed": ("Đã xác nhận trên điện thoại.", "Confirmed on the phone."),
    "rejected": ("Bạn đã từ chối trong ứng dụng: không có tài liệu nào được ký.",
                 "Refused in the app: nothing was signed."),
    "expired": ("Hết hạn xác nhận: không có tài liệu nào được ký.",
                "The confirmation expired: nothing was signed."),
    "failed": ("Nhà cung cấp báo lỗi: không có tài liệu nào được ký.",
               "The provider reported an error: nothing was signed."),
    "open": ("Mở tài liệu", "Open the document"),
}


def text(lang: str) -> Any:
    return lambda key, **fmt: pick(lang, TEXT[key]).format(**fmt)


def _signing(request: Request) -> Any:
    return getattr(request.app.state, "remote_signing", None)


def bound_subscriber(services: Any, principal: Any) -> str | None:
    """The clinician's bound provider subscriber id, or None."""
    from api.remote.pending_db import SubscriberBindings

    return SubscriberBindings(services.engine).user_id(principal.subject)


async def remote_offered(request: Request, principal: Any) -> bool:
    """True when the remote-signing button is shown: a provider is configured and the
    clinician has a bound subscriber id."""
    if _signing(request) is None or principal.kind != "staff":
        return False
    return await blocking(request, bound_subscriber, services_of(request), principal) is not None


def _not_offered(bound: bool) -> Forbidden | NotFound:
    if bound:
        return Forbidden("remote.subscriber_not_bound",
                         "Tài khoản chưa được gắn với thuê bao ký số từ xa; liên hệ quản trị "
                         "hệ thống. Không có yêu cầu nào được gửi.",
                         "This account is not bound to a remote-signing subscriber; ask the "
                         "administrator. Nothing was sent.")
    return NotFound("remote.not_configured",
                    "Chưa cấu hình nhà cung cấp ký số từ xa. Không có yêu cầu nào được gửi.",
                    "No remote signing provider is configured. Nothing was sent.")


def _with_reasons(error: Conflict) -> Conflict:
    """``remote.nothing_to_sign`` with its per-document reasons as the error page lists
    them (``field: message``)."""
    refused = (error.details or {}).get("refused") if isinstance(error.details, dict) else None
    if not isinstance(refused, dict):
        return error
    return Conflict(error.code, error.message_vi, error.message_en, details=[
        {"field": doc_id[:8], "message_vi": r.get("message_vi", ""),
         "message_en": r.get("message_en", "")} for doc_id, r in refused.items()])


def _selection(values: list[str]) -> list[tuple[str, str]]:
    """``id:sha256[:form]`` (the inbox's checkboxes) → (document id, sha256)."""
    if not values:
        raise InvalidInput("web.nothing_selected", "Chưa chọn tài liệu nào.",
                           "No document selected.")
    out = []
    for value in values[:MAX_DOCUMENTS]:
        doc_id, _, rest = value.partition(":")
        sha = rest.partition(":")[0]
        if not doc_id or len(sha) != 64:
            raise InvalidInput("web.bad_selection", "Lựa chọn không hợp lệ.",
                               "Invalid selection.")
        out.append((doc_id[:64], sha.lower()))
    return out


@router.post("/remote-signing")
@page(back="/web/inbox")
async def start_remote(request: Request) -> Response:
    """One remote transaction for the documents selected (the inbox) or shown (the
    document page: a single ``doc``)."""
    from api.remote.requests import RemoteSigningRequest, ask_remote_signature

    principal = principal_of(request)
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    items = _selection([str(v) for v in form.getlist("doc")])
    services = services_of(request)
    signing = _signing(request)
    if signing is None:
        raise _not_offered(False)
    user_id = await blocking(request, bound_subscriber, services, principal)
    if user_id is None:
        raise _not_offered(True)
    try:
        body = RemoteSigningRequest.model_validate({"user_id": user_id, "documents": [
            {"document_id": d, "if_match": s} for d, s in items]})
    except ValidationError as e:
        raise InvalidInput("web.bad_selection", "Lựa chọn không hợp lệ.",
                           "Invalid selection.") from e
    try:
        tx = await ask_remote_signature(signing, services, principal, body)
    except Conflict as e:
        raise _with_reasons(e) from e
    return RedirectResponse(f"/web/remote-signing/{tx.transaction_id}", status_code=303)


def _state(request: Request, transaction_id: str) -> dict[str, Any]:
    from api.remote.requests import own_transaction, transaction_view

    signing = _signing(request)
    if signing is None or len(transaction_id) != 32:
        raise NotFound("remote.unknown_transaction", "Không tìm thấy giao dịch ký từ xa.",
                       "Unknown remote signing transaction.")
    tx = own_transaction(signing, services_of(request), principal_of(request), transaction_id)
    view = transaction_view(tx, signing.outcome(tx), with_pdfs=False)
    view["finished"] = tx.status != "pending" and not any(
        s["state"] in ("awaiting_confirmation", "archiving") for s in view["states"])
    return view


@router.get("/remote-signing/{transaction_id}")
@page(back="/web/inbox")
async def remote_page(request: Request, transaction_id: DocId) -> Response:
    view = await blocking(request, _state, request, transaction_id)
    lang = lang_of(request)
    return render(request, "remote.html", tx=view, rt=text(lang))


@router.get("/remote-signing/{transaction_id}/status")
async def remote_status(request: Request, transaction_id: DocId) -> Response:
    try:
        principal_of(request)
    except Exception:  # noqa: BLE001 - the poller goes to the log-in page
        return JSONResponse({"login": True}, status_code=401)
    try:
        view = await blocking(request, _state, request, transaction_id)
    except (NotFound, Forbidden):
        return JSONResponse({"missing": True}, status_code=404)
    return JSONResponse(view, headers={"Cache-Control": "no-store"})
