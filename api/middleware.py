"""ASGI middleware: request id and structured access log, upload size limit
(413), per-client rate limit (429), request metrics.

Access logs carry the request id, method, route and status, never the query
string (a FHIR search carries a patient identifier there) nor any body.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem

access_log = logging.getLogger("hsba.access")


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line; ``extra`` fields are included."""

    _skip = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for k, v in record.__dict__.items():
            if k not in self._skip and not k.startswith("_"):
                out[k] = v if isinstance(v, (str, int, float, bool, type(None))) else str(v)
        if record.exc_info and record.exc_info[0] is not None:
            out["error_type"] = record.exc_info[0].__name__
            out["traceback"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def configure_json_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


@dataclass(frozen=True)
class ApiLimits:
    max_upload_bytes: int = 25 * 1024 * 1024
    rate_per_s: float = 50.0
    """Sustained requests per second per client."""
    burst: int = 200


class _Bucket:
    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


class RateLimiter:
    """Token bucket per client key (credential hash, else address)."""

    def __init__(self, rate_per_s: float, burst: int) -> None:
        self.rate = rate_per_s
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> tuple[bool, float]:
        now = time.monotonic()
        with self._lock:
            b = self._buckets.get(key)
            if b is None:
                if len(self._buckets) > 100_000:
                    self._buckets.clear()
                b = self._buckets[key] = _Bucket(float(self.burst), now)
            b.tokens = min(self.burst, b.tokens + (now - b.stamp) * self.rate)
            b.stamp = now
            if b.tokens >= 1:
                b.tokens -= 1
                return True, 0.0
            return False, (1 - b.tokens) / self.rate


class _TooLarge(Exception):
    pass


class ApiMiddleware:
    _exempt = ("/healthz", "/readyz", "/metrics")

    def __init__(self, app: ASGIApp, limits: ApiLimits, metrics: Any) -> None:
        self.app = app
        self.limits = limits
        self.metrics = metrics
        self.limiter = RateLimiter(limits.rate_per_s, limits.burst)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request_id = headers.get("x-request-id", "")[:64] or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        path = scope.get("path", "")
        method = scope.get("method", "")
        started = time.perf_counter()
        status_holder = {"status": 500}

        async def send_wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [
                    (b"x-request-id", request_id.encode("latin-1"))
                ]
            await send(message)

        try:
            if path not in self._exempt:
                credential = headers.get("authorization", "")
                client = scope.get("client") or ("?", 0)
                key = (hashlib.sha256(credential.encode()).hexdigest()[:32]
                       if credential else f"addr:{client[0]}")
                ok, retry = self.limiter.allow(key)
                if not ok:
                    resp = problem(429, "rate_limited",
                                   headers={"Retry-After": str(max(1, int(retry + 0.999)))})
                    await resp(scope, receive, send_wrapped)
                    return
            length = headers.get("content-length")
            if length is not None and length.isdigit() and int(length) > self.limits.max_upload_bytes:
                await problem(413, "upload.too_large",
                              details={"max_bytes": self.limits.max_upload_bytes})(
                    scope, receive, send_wrapped)
                return
            received = 0

            async def receive_limited() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > self.limits.max_upload_bytes:
                        raise _TooLarge()
                return message

            try:
                await self.app(scope, receive_limited, send_wrapped)
            except _TooLarge:
                await problem(413, "upload.too_large",
                              details={"max_bytes": self.limits.max_upload_bytes})(
                    scope, receive, send_wrapped)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            route_path = getattr(route, "path", None) or "unmatched"
            status = status_holder["status"]
            if self.metrics is not None:
                self.metrics.requests.labels(method, route_path, str(status)).inc()
                self.metrics.request_seconds.labels(method, route_path).observe(elapsed)
            access_log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": method,
                    "route": route_path,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 1),
                },
            )
