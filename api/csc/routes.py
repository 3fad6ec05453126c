"""CSC API routes: ``/csc/v2/...`` and the v1 paths pyHanko's ``CSCSigner`` calls.

Both versions take the same JSON (v1 ``hash``/``hashAlgo`` and v2
``hashes``/``hashAlgorithmOID`` are both read). Errors are CSC JSON:
``{"error": ..., "error_description": ...}`` plus ``message_vi``/``message_en``.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from api.auth.tokens import Principal
from api.csc.service import CscError, CscService
from api.deps import current_principal, get_services, get_tokens
from api.problems import status_for
from core.errors import HsbaError
from workflow.accounts import Account

router = APIRouter(tags=["csc"])

_ERROR_NAMES = {401: "invalid_token", 403: "access_denied", 404: "invalid_request",
                422: "invalid_request"}


def csc_service(request: Request) -> CscService:
    """The process's CSC service (created on first use, kept on the app)."""
    svc = getattr(request.app.state, "csc", None)
    if svc is None:
        svc = request.app.state.csc = CscService(get_services(request))
    return svc


def _error(e: HsbaError) -> JSONResponse:
    if isinstance(e, CscError):
        status, name, desc = e.http_status, e.error, e.description
    else:
        status = status_for(e)
        name = _ERROR_NAMES.get(status, "server_error" if status >= 500 else "invalid_request")
        desc = e.message_en
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": name, "error_description": desc,
                         "message_vi": e.message_vi, "message_en": e.message_en},
                        status_code=status, headers=headers)


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise CscError(400, "invalid_request", "The request body must be a JSON object",
                       "Nội dung yêu cầu phải là đối tượng JSON.")
    return body


async def _call(request: Request,
                action: Callable[[CscService, Principal, dict[str, Any]], dict[str, Any]],
                ) -> Response:
    try:
        principal = current_principal(request)
        body = await _json(request)
        svc = csc_service(request)
        # the key store and database calls block: keep them off the event loop
        import anyio

        result = await anyio.to_thread.run_sync(lambda: action(svc, principal, body))
    except HsbaError as e:
        return _error(e)
    return JSONResponse(result)


def info_body(request: Request) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    return {
        "specs": "2.0.0.0",
        "name": "hsba",
        "logo": f"{base}/static/logo.png",
        "region": "VN",
        "lang": "vi",
        "description": "hsba: ký số hồ sơ bệnh án điện tử (CSC API over the hospital HSM)",
        "authType": ["basic", "oauth2code", "oauth2client"],
        "oauth2": f"{base}/csc/v2",
        "oauth2Issuer": f"{base}/csc/v2",
        "methods": ["auth/login", "oauth2/authorize", "oauth2/token", "credentials/list",
                    "credentials/info", "credentials/authorize", "signatures/signHash"],
        "signatures": {"signHash": True, "numSignatures": True, "SCAL": "2"},
    }


def _list(svc: CscService, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
    user_id = body.get("userID")
    ids = svc.credentials_for(principal, user_id if isinstance(user_id, str) else None)
    out: dict[str, Any] = {"credentialIDs": ids}
    if body.get("credentialInfo"):
        out["credentialInfos"] = [
            {"credentialID": cid, **svc.credential_info(principal, {
                "credentialID": cid, "certificates": body.get("certificates", "single")})}
            for cid in ids]
    return out


def _register(prefix: str) -> None:
    async def info(request: Request) -> Response:
        return JSONResponse(info_body(request))

    async def credentials_list(request: Request) -> Response:
        return await _call(request, _list)

    async def credentials_info(request: Request) -> Response:
        return await _call(request, lambda s, p, b: s.credential_info(p, b))

    async def credentials_authorize(request: Request) -> Response:
        return await _call(request, lambda s, p, b: s.authorize(p, b))

    async def sign_hash(request: Request) -> Response:
        return await _call(request, lambda s, p, b: s.sign_hash(p, b))

    for path, endpoint in (("info", info), ("credentials/list", credentials_list),
                           ("credentials/info", credentials_info),
                           ("credentials/authorize", credentials_authorize),
                           ("signatures/signHash", sign_hash)):
        router.add_api_route(f"{prefix}/{path}", endpoint, methods=["POST"],
                             name=f"csc {prefix.rsplit('/', 1)[-1]} {path}")


_register("/csc/v1")
_register("/csc/v2")


# --- authentication: auth/login, oauth2/token, oauth2/authorize ----------------------
def _token_body(request: Request, account: Account) -> dict[str, Any]:
    principal = Principal(subject=account.id, tenant=account.tenant, role=account.role,
                          kind=account.kind, username=account.username,
                          practitioner_id=account.practitioner_id,
                          department=account.department, scopes=("service", "credential"))
    token, ttl = get_tokens(request).issue(principal)
    get_services(request).trail.record("login", actor=principal,
                                       details={"kind": account.kind, "via": "csc"})
    return {"access_token": token, "token_type": "Bearer", "expires_in": ttl}


def _basic(request: Request) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            user, _, secret = base64.b64decode(header[6:].strip()).decode().partition(":")
            return user, secret
        except (ValueError, UnicodeDecodeError):
            pass
    raise CscError(401, "invalid_request", "HTTP Basic authentication is required",
                   "Cần xác thực HTTP Basic.")


@router.post("/csc/v2/auth/login", tags=["csc"])
async def auth_login(request: Request) -> Response:
    """Practitioner login (HTTP Basic username:password; the TOTP in ``OTP``, an
    hsba extension because staff logins need two factors)."""
    try:
        user, secret = _basic(request)
        body = await request.json() if await request.body() else {}
        otp = body.get("OTP") if isinstance(body, dict) else None
        account = get_services(request).accounts.authenticate(
            "staff", user, secret, otp if isinstance(otp, str) else None)
        return JSONResponse(_token_body(request, account))
    except HsbaError as e:
        return _error(e)
    except ValueError:
        return _error(CscError(400, "invalid_request", "Malformed JSON body",
                               "Nội dung JSON không hợp lệ."))


def _pkce_ok(verifier: str, challenge: str) -> bool:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == challenge


def _oauth_error(status: int, error: str, en: str, vi: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": en, "message_vi": vi,
                         "message_en": en}, status_code=status)


@router.post("/csc/v2/oauth2/token", tags=["csc"])
async def oauth2_token(request: Request) -> Response:
    """``client_credentials`` (hospital systems) and ``authorization_code`` with PKCE S256
    (practitioners, after :func:`oauth2_authorize`)."""
    form = await request.form()
    grant = str(form.get("grant_type", ""))
    services = get_services(request)
    try:
        if grant == "client_credentials":
            client_id, client_secret = form.get("client_id"), form.get("client_secret")
            if not client_id:
                client_id, client_secret = _basic(request)
            account = services.accounts.authenticate("client", str(client_id),
                                                     str(client_secret or ""))
            return JSONResponse(_token_body(request, account))
        if grant == "authorization_code":
            svc = csc_service(request)
            code = svc.state.redeem_code(str(form.get("code", "")))
            verifier = str(form.get("code_verifier", ""))
            if code is None or code.redirect_uri != str(form.get("redirect_uri", "")) \
                    or code.client_id != str(form.get("client_id", "")) \
                    or not _pkce_ok(verifier, code.code_challenge):
                return _oauth_error(400, "invalid_grant",
                                    "The authorization code is invalid, used or expired, "
                                    "or the PKCE verifier does not match",
                                    "Mã uỷ quyền không hợp lệ, đã dùng, hết hạn hoặc sai PKCE.")
            person = services.accounts.get(code.account_id)
            if person is None:
                return _oauth_error(400, "invalid_grant", "The account is no longer active",
                                    "Tài khoản không còn hiệu lực.")
            return JSONResponse(_token_body(request, person))
    except HsbaError as e:
        return _oauth_error(401, "invalid_client", e.message_en, e.message_vi) \
            if status_for(e) == 401 else _error(e)
    return _oauth_error(400, "unsupported_grant_type", f"Unsupported grant_type {grant!r}",
                        "Loại cấp quyền không được hỗ trợ.")


_AUTHORIZE_FIELDS = ("client_id", "redirect_uri", "code_challenge", "code_challenge_method",
                     "state", "scope")


@router.get("/csc/v2/oauth2/authorize", tags=["csc"], response_class=HTMLResponse)
async def oauth2_authorize_page(request: Request) -> Response:
    """The practitioner's login page (password + TOTP) for the authorization code flow."""
    q = request.query_params
    hidden = "".join(
        f'<input type="hidden" name="{f}" value="{html.escape(q.get(f, ""))}">'
        for f in _AUTHORIZE_FIELDS)
    return HTMLResponse(
        '<!doctype html><html lang="vi"><meta charset="utf-8"><title>hsba - ký số</title>'
        '<form method="post"><h1>Xác thực người ký / Signer authentication</h1>'
        '<label>Tên đăng nhập <input name="username" autocomplete="username"></label>'
        '<label>Mật khẩu <input name="password" type="password"></label>'
        '<label>Mã TOTP <input name="totp" inputmode="numeric"></label>'
        f'{hidden}<button type="submit">Đăng nhập</button></form></html>')


@router.post("/csc/v2/oauth2/authorize", tags=["csc"])
async def oauth2_authorize(request: Request) -> Response:
    form = await request.form()
    redirect_uri = str(form.get("redirect_uri", ""))
    challenge = str(form.get("code_challenge", ""))
    if not redirect_uri.startswith(("https://", "http://127.0.0.1", "http://localhost")) \
            or str(form.get("code_challenge_method", "")) != "S256" or len(challenge) < 43:
        return _oauth_error(400, "invalid_request",
                            "redirect_uri and a PKCE S256 code_challenge are required",
                            "Cần redirect_uri và code_challenge PKCE S256.")
    try:
        account = get_services(request).accounts.authenticate(
            "staff", str(form.get("username", "")), str(form.get("password", "")),
            str(form.get("totp", "")))
    except HsbaError as e:
        return _oauth_error(401, "access_denied", e.message_en, e.message_vi)
    code = csc_service(request).state.issue_code(
        account.id, str(form.get("client_id", "")), redirect_uri, challenge)
    params = {"code": code}
    if form.get("state"):
        params["state"] = str(form.get("state"))
    sep = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(f"{redirect_uri}{sep}{urlencode(params)}", status_code=303)
