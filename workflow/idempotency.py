"""Idempotency records: a POST repeated with the same ``Idempotency-Key`` by
the same caller gets the stored response instead of acting twice."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from workflow.db import idempotency


@dataclass(frozen=True)
class StoredResponse:
    request_sha256: str
    status_code: int
    headers: list[tuple[str, str]]
    body: bytes


class IdempotencyStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._inflight: set[str] = set()
        self._lock = threading.Lock()

    def get(self, scope: str) -> StoredResponse | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(idempotency).where(idempotency.c.scope == scope)).first()
        if row is None:
            return None
        return StoredResponse(row.request_sha256, row.status_code,
                              [tuple(h) for h in row.headers], row.body)

    def begin(self, scope: str) -> bool:
        """Claim the key for one in-flight request; False if another holds it."""
        with self._lock:
            if scope in self._inflight:
                return False
            self._inflight.add(scope)
            return True

    def finish(self, scope: str, response: StoredResponse | None) -> None:
        try:
            if response is not None:
                with self._engine.begin() as conn:
                    conn.execute(idempotency.insert().values(
                        scope=scope, request_sha256=response.request_sha256,
                        status_code=response.status_code,
                        headers=[list(h) for h in response.headers], body=response.body,
                        created_at=datetime.now(UTC)))
        except IntegrityError:
            pass  # another process stored it first: the first answer stands
        finally:
            with self._lock:
                self._inflight.discard(scope)
