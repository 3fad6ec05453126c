"""``Idempotency-Key`` on every POST (ASGI middleware).

The key is scoped by the caller (token subject, else the credential hash),
the path and the key. A repeat with the same body replays the stored
response (header ``Idempotent-Replayed: true``); a repeat with another body
is refused (422); a repeat while the first is still running gets 409.
Responses with status ≥ 500 are not stored, so a retry acts again. Database
reads and writes run on a worker thread, never on the event loop.
"""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem
from core.errors import HsbaError
from workflow.idempotency import IdempotencyStore, StoredResponse

MAX_KEY_LEN = 255


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, store_getter: Any, tokens_getter: Any) -> None:
        self.app = app
        self._store = store_getter
        self._tokens = tokens_getter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        key = headers.get("idempotency-key")
        if not key:
            await self.app(scope, receive, send)
            return
        if len(key) > MAX_KEY_LEN:
            await problem(400, "idempotency.key_too_long")(scope, receive, send)
            return
        caller = self._caller(headers.get("authorization", ""))
        store: IdempotencyStore = self._store()
        full_scope = hashlib.sha256(
            f"{caller}|{scope.get('path')}|{key}".encode()).hexdigest()

        # Read the whole body (already bounded by ApiMiddleware) to hash it.
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        body_sha = hashlib.sha256(body).hexdigest()

        stored = await run_in_threadpool(store.get, full_scope)  # never on the event loop
        if stored is not None:
            if stored.request_sha256 != body_sha:
                await problem(422, "idempotency.key_reused",
                              "Idempotency-Key đã dùng cho một yêu cầu khác.",
                              "The Idempotency-Key was used for a different request.")(
                    scope, receive, send)
                return
            await send({"type": "http.response.start", "status": stored.status_code,
                        "headers": [(k.encode("latin-1"), v.encode("latin-1"))
                                    for k, v in stored.headers]
                        + [(b"idempotent-replayed", b"true")]})
            await send({"type": "http.response.body", "body": stored.body})
            return
        if not store.begin(full_scope):
            await problem(409, "idempotency.in_progress",
                          "Yêu cầu cùng Idempotency-Key đang được xử lý.",
                          "A request with this Idempotency-Key is in progress.")(
                scope, receive, send)
            return

        sent_body = False

        async def replay_receive() -> Message:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        captured: dict[str, Any] = {"status": 500, "headers": [], "body": []}

        async def capture_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = [
                    (k.decode("latin-1"), v.decode("latin-1"))
                    for k, v in message.get("headers", [])
                    if k.lower() not in (b"x-request-id", b"content-length")
                ]
            elif message["type"] == "http.response.body":
                captured["body"].append(message.get("body", b""))
            await send(message)

        result: StoredResponse | None = None
        try:
            await self.app(scope, replay_receive, capture_send)
            if captured["status"] < 500:
                result = StoredResponse(body_sha, captured["status"], captured["headers"],
                                        b"".join(captured["body"]))
        finally:
            await run_in_threadpool(store.finish, full_scope, result)

    def _caller(self, authorization: str) -> str:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token:
            try:
                p = self._tokens().verify(token.strip())
                return f"{p.tenant}:{p.subject}"
            except HsbaError:
                pass
        return "cred:" + hashlib.sha256(authorization.encode()).hexdigest()
