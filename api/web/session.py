"""The web session: an HttpOnly cookie holding the API access token (JWT),
the page language, CSRF tokens and page rendering.

The CSRF token of a logged-in form is an HMAC of the session token, so it is
stateless and unknown to another site (it cannot read the HttpOnly cookie);
the login form uses a double-submit cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.auth.tokens import Principal
from api.web.i18n import CHANGES, LANGS, ROLES, STATUS, TERMS, VERDICT, pick, translator
from core.errors import HsbaError, Unauthorized

SESSION_COOKIE = "hsba_session"
LANG_COOKIE = "hsba_lang"
LOGIN_CSRF_COOKIE = "hsba_login_csrf"
VN = ZoneInfo("Asia/Ho_Chi_Minh")
HERE = Path(__file__).parent


class CsrfRefused(Unauthorized):
    http_status = 403

    def __init__(self) -> None:
        super().__init__("web.csrf", "Biểu mẫu đã hết hạn, vui lòng thử lại.",
                         "The form expired; please try again.")


class LoginRequired(Exception):
    """No valid session: the page redirects to the right log-in page."""

    def __init__(self, kiosk: bool = False) -> None:
        self.kiosk = kiosk


@cache
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters["local"] = _local_time
    return env


def _local_time(value: Any) -> str:
    """UTC datetimes (or ISO strings) shown in Asia/Ho_Chi_Minh."""
    from datetime import UTC, datetime

    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return str(value.astimezone(VN).strftime("%d/%m/%Y %H:%M"))


def lang_of(request: Request) -> str:
    q = request.query_params.get("lang")
    if q in LANGS:
        return q
    c = request.cookies.get(LANG_COOKIE)
    return c if c in LANGS else "vi"


def csrf_for(token: str) -> str:
    return hmac.new(b"hsba-web-csrf", token.encode(), hashlib.sha256).hexdigest()[:40]


def session_token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None


def principal_of(request: Request, *, kiosk: bool = False) -> Principal:
    """The logged-in principal, checked like the API's bearer token."""
    token = session_token(request)
    if not token:
        raise LoginRequired(kiosk)
    try:
        principal: Principal = request.app.state.tokens.verify(token)
    except Unauthorized as e:
        raise LoginRequired(kiosk) from e
    if request.app.state.services.accounts.get(principal.subject) is None:
        raise LoginRequired(kiosk)
    request.state.principal = principal
    return principal


def check_csrf(request: Request, submitted: str | None) -> None:
    token = session_token(request)
    if not token or not submitted or not hmac.compare_digest(csrf_for(token), submitted):
        raise CsrfRefused()


def check_login_csrf(request: Request, submitted: str | None) -> None:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not cookie or not submitted or not hmac.compare_digest(cookie, submitted):
        raise CsrfRefused()


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    lang = lang_of(request)
    token = session_token(request)
    principal = getattr(request.state, "principal", None)
    ctx = {
        "request": request, "lang": lang, "t": translator(lang),
        "other_lang": "en" if lang == "vi" else "vi", "here": _here(request),
        "csrf": csrf_for(token) if token else "", "principal": principal,
        "status_label": lambda s: pick(lang, STATUS.get(s, (s, s))),
        "verdict_label": lambda v: pick(lang, VERDICT.get(v, (v, v, "")))
        if v else "—",
        "verdict_class": lambda v: VERDICT.get(v, ("", "", "warn"))[2] if v else "warn",
        "term": lambda k: pick(lang, TERMS.get(k, (k, k))) if k else "—",
        "role_label": lambda r: pick(lang, ROLES.get(r, (r, r))),
        "changes_label": lambda c: pick(lang, CHANGES.get(c, (c, c))),
        **context,
    }
    html = environment().get_template(template).render(**ctx)
    response = HTMLResponse(html, status_code=status_code)
    if request.query_params.get("lang") in LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax",
                            httponly=True)
    response.headers["Cache-Control"] = "no-store"
    return response


def _here(request: Request) -> str:
    """Where the language switch comes back to: this page for a GET, else the home page
    (a form's result page cannot be fetched again)."""
    if request.method != "GET":
        return "/web/"
    query = "&".join(f"{k}={v}" for k, v in request.query_params.multi_items() if k != "lang")
    return request.url.path + (f"?{query}" if query else "")


def safe_next(value: str | None) -> str:
    """Only a path of this site (no scheme, no host, no protocol-relative ``//``)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/web/"
    return value


def error_page(request: Request, error: HsbaError, back: str = "/web/") -> HTMLResponse:
    lang = lang_of(request)
    message = error.message_en if lang == "en" else error.message_vi
    from api.problems import STATUS_BY_KIND

    status = getattr(error, "http_status", None) or STATUS_BY_KIND.get(error.kind, 400)
    return render(request, "error.html", status_code=int(status), message=message,
                  code=error.code, back=back, details=_details(error, lang))


def _details(error: HsbaError, lang: str) -> list[str]:
    details = getattr(error, "details", None)
    if not isinstance(details, list):
        return []
    key = "message_en" if lang == "en" else "message_vi"
    return [f"{d.get('field', '')}: {d.get(key, '')}" for d in details if isinstance(d, dict)]


def login_redirect(request: Request, kiosk: bool) -> Response:
    target = "/web/kiosk/login" if kiosk else "/web/login"
    response = RedirectResponse(f"{target}?expired=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def set_session(response: Response, token: str, ttl: int) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=ttl, httponly=True, samesite="strict",
                        path="/")
