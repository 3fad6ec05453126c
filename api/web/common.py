"""Helpers shared by the page modules: the page decorator (login redirect,
errors as pages), form catalogue titles, page counts and previews."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from functools import cache
from io import BytesIO
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from api.auth.tokens import Principal
from api.web.session import LoginRequired, error_page, login_redirect
from core.errors import HsbaError

log = logging.getLogger("hsba.web")


def page(kiosk: bool = False, back: str = "/web/") -> Callable[..., Any]:
    """Wrap a page handler: no session → the log-in page; a domain error → an
    error page with a way back (no dead end)."""

    def wrap(fn: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Response]]:
        @functools.wraps(fn)
        async def run(request: Request, *args: Any, **kwargs: Any) -> Response:
            try:
                return await fn(request, *args, **kwargs)
            except LoginRequired as e:
                return login_redirect(request, e.kiosk or kiosk)
            except HsbaError as e:
                return error_page(request, e, back=request.headers.get("referer") or back)
            except Exception:  # an error page with a way back, never a raw 500
                log.exception("web page failed", extra={
                    "request_id": getattr(request.state, "request_id", "")})
                return error_page(request, HsbaError(
                    "internal", "Lỗi hệ thống; vui lòng thử lại hoặc báo bộ phận CNTT.",
                    "Internal error; please retry or tell the IT desk."),
                    back=request.headers.get("referer") or back)

        return run

    return wrap


async def blocking(request: Request, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Blocking workflow work on the services' pool, never on the event loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(request.app.state.services.executor,
                                      functools.partial(fn, *args, **kwargs))


@cache
def form_titles() -> dict[str, tuple[str, str]]:
    from templates.catalogue import list_forms

    return {f.code: (f.title_vi, f.title_en) for f in list_forms()}


def form_title(code: str, lang: str) -> str:
    pair = form_titles().get(code)
    return (pair[1] if lang == "en" else pair[0]) if pair else code


def page_count(pdf: bytes) -> int:
    import pikepdf

    with pikepdf.open(BytesIO(pdf)) as doc:
        return len(doc.pages)


def issue_session(request: Request, account: Any, services: Any) -> tuple[str, int]:
    principal = Principal(subject=account.id, tenant=account.tenant, role=account.role,
                          kind=account.kind, username=account.username,
                          practitioner_id=account.practitioner_id,
                          department=account.department)
    token, ttl = request.app.state.tokens.issue(principal)
    services.trail.record("login", actor=principal, details={"kind": account.kind,
                                                              "via": "web"})
    return token, ttl


def services_of(request: Request) -> Any:
    return request.app.state.services
