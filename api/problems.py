"""Errors as ``application/problem+json`` (RFC 9457), in Vietnamese and English.

One table maps each ``core.errors`` kind to its HTTP status.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import HsbaError

log = logging.getLogger("hsba.api")

PROBLEM_JSON = "application/problem+json"

STATUS_BY_KIND: dict[str, int] = {
    "invalid_input": 422,
    "not_found": 404,
    "forbidden": 403,
    "unauthorized": 401,
    "conflict": 409,
    "precondition_failed": 412,
    "precondition_required": 428,
    "policy": 403,
    "signing": 422,
    "key_custody": 503,
    "archive": 503,
    "configuration": 500,
    "unavailable": 503,
    "error": 500,
}

_HTTP_MESSAGES: dict[int, tuple[str, str]] = {
    400: ("Yêu cầu không hợp lệ.", "Bad request."),
    401: ("Cần đăng nhập.", "Authentication required."),
    403: ("Không có quyền thực hiện.", "Forbidden."),
    404: ("Không tìm thấy.", "Not found."),
    405: ("Phương thức không được hỗ trợ.", "Method not allowed."),
    409: ("Xung đột dữ liệu.", "Conflict."),
    412: ("Phiên bản tài liệu đã thay đổi.", "Precondition failed."),
    413: ("Tệp tải lên quá lớn.", "Upload too large."),
    415: ("Định dạng không được hỗ trợ.", "Unsupported media type."),
    422: ("Dữ liệu không hợp lệ.", "Invalid data."),
    428: ("Thiếu điều kiện If-Match.", "If-Match required."),
    429: ("Quá nhiều yêu cầu, vui lòng thử lại sau.", "Too many requests."),
    500: ("Lỗi hệ thống.", "Internal error."),
    503: ("Dịch vụ tạm thời không sẵn sàng.", "Service unavailable."),
}


def problem(
    status: int,
    code: str,
    message_vi: str | None = None,
    message_en: str | None = None,
    *,
    details: Any = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    vi, en = _HTTP_MESSAGES.get(status, ("Lỗi.", "Error."))
    body: dict[str, Any] = {
        "type": f"https://hsba.vn/problems/{code}",
        "title": message_en or en,
        "status": status,
        "code": code,
        "detail": message_vi or vi,
        "message_vi": message_vi or vi,
        "message_en": message_en or en,
    }
    if details is not None:
        body["details"] = details
    if instance:
        body["instance"] = instance
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def status_for(error: HsbaError) -> int:
    override = getattr(error, "http_status", None)
    if isinstance(override, int):
        return override
    return STATUS_BY_KIND.get(error.kind, 500)


def install(app: FastAPI) -> None:
    @app.exception_handler(HsbaError)
    async def _hsba(request: Request, exc: HsbaError) -> JSONResponse:
        status = status_for(exc)
        metrics = getattr(request.app.state, "metrics", None)
        if metrics is not None:
            metrics.errors.labels(kind=exc.kind).inc()
        if status >= 500:
            log.error("request failed", extra={"code": exc.code, "kind": exc.kind})
        return problem(status, exc.code, exc.message_vi, exc.message_en, details=exc.details,
                       instance=request.url.path,
                       headers={"WWW-Authenticate": "Bearer"} if status == 401 else None)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, f"http.{exc.status_code}", instance=request.url.path,
                       headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ())),
                "message_en": str(err.get("msg", "")),
                "message_vi": "Giá trị không hợp lệ.",
            }
            for err in exc.errors()
        ]
        return problem(422, "request.invalid", details=details, instance=request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        metrics = getattr(request.app.state, "metrics", None)
        if metrics is not None:
            metrics.errors.labels(kind="internal").inc()
        log.exception("unexpected error", extra={"error_type": type(exc).__name__})
        return problem(500, "internal", instance=request.url.path)
