"""Webhooks for hospital systems: document.created, signature.completed,
document.completed, document.archived.

Each event becomes one delivery row per matching subscription (the delivery
log); due deliveries are posted and failures retried with exponential backoff
until ``max_attempts`` by the in-process scheduler (embedded default) or, on
PostgreSQL, by durable queue jobs that ``hsba worker`` runs; a delivery can be
redelivered.
Payloads are signed per subscription: HMAC-SHA256 with the subscription's
secret (``X-Hsba-Signature: sha256=…``), or a detached JWS made with the
hospital's seal key in the keystore (``X-Hsba-JWS``, RS256/ES256, ``kid`` =
key id, ``x5c`` = its certificate). Payloads carry ids, never patient data.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from core.errors import InvalidInput, NotFound
from workflow.db import webhook_deliveries, webhook_subscriptions

log = logging.getLogger(__name__)

EVENTS = ("document.created", "signature.completed", "document.completed", "document.archived")


@dataclass(frozen=True)
class Subscription:
    id: str
    tenant: str
    url: str
    events: tuple[str, ...]
    signing: str
    created_at: datetime
    secret: str | None = None
    """Returned once, at creation (HMAC subscriptions)."""


@dataclass(frozen=True)
class Delivery:
    id: str
    subscription_id: str
    event: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _utc(v: datetime | None) -> datetime | None:
    return v if v is None or v.tzinfo else v.replace(tzinfo=UTC)


class WebhookHub:
    def __init__(self, services: Any, *, backoff_base_s: float = 2.0, max_backoff_s: float = 600,
                 max_attempts: int = 12, timeout_s: float = 5.0) -> None:
        self._s = services
        self.backoff_base_s = backoff_base_s
        self.max_backoff_s = max_backoff_s
        self.max_attempts = max_attempts
        self.timeout_s = timeout_s
        self._lock = threading.Lock()

    # --- subscriptions ---------------------------------------------------------------
    def subscribe(self, tenant: str, url: str, events: list[str], signing: str) -> Subscription:
        if not url.startswith(("https://", "http://")):
            raise InvalidInput("webhook.bad_url", "URL phải là http(s).", "The URL must be http(s).")
        if self._s.settings.env == "production" and not url.startswith("https://"):
            raise InvalidInput("webhook.https_required", "Môi trường production cần https.",
                               "Production needs an https URL.")
        bad = [e for e in events if e not in EVENTS]
        if bad or not events:
            raise InvalidInput("webhook.bad_events", "Sự kiện không hợp lệ.",
                               "Unknown events.", details={"events": bad, "known": list(EVENTS)})
        if signing not in ("hmac", "jws"):
            raise InvalidInput("webhook.bad_signing", "Chọn hmac hoặc jws.", "Use hmac or jws.")
        sub_id = uuid.uuid4().hex
        secret = secrets.token_urlsafe(32) if signing == "hmac" else None
        now = datetime.now(UTC)
        with self._s.engine.begin() as conn:
            conn.execute(webhook_subscriptions.insert().values(
                id=sub_id, tenant=tenant, url=url, events=list(events), signing=signing,
                secret=secret, created_at=now))
        return Subscription(sub_id, tenant, url, tuple(events), signing, now, secret)

    def subscriptions(self, tenant: str) -> list[Subscription]:
        with self._s.engine.connect() as conn:
            rows = conn.execute(select(webhook_subscriptions).where(
                webhook_subscriptions.c.tenant == tenant)).all()
        return [Subscription(r.id, r.tenant, r.url, tuple(r.events), r.signing,
                             _utc(r.created_at)) for r in rows]  # type: ignore[arg-type]

    def unsubscribe(self, tenant: str, sub_id: str) -> None:
        with self._s.engine.begin() as conn:
            res = conn.execute(webhook_subscriptions.delete().where(
                webhook_subscriptions.c.id == sub_id, webhook_subscriptions.c.tenant == tenant))
        if res.rowcount != 1:
            raise NotFound("webhook.not_found", "Không tìm thấy.", "Not found.")

    # --- events --------------------------------------------------------------------------
    def emit(self, tenant: str, event: str, data: dict[str, Any]) -> int:
        """Queue ``event`` for every subscription of ``tenant`` that wants it."""
        now = datetime.now(UTC)
        subs = [s for s in self.subscriptions(tenant) if event in s.events]
        if not subs:
            return 0
        with self._s.engine.begin() as conn:
            for s in subs:
                delivery_id = uuid.uuid4().hex
                payload = {"id": delivery_id, "type": event, "tenant": tenant,
                           "created_at": now.isoformat(), "data": data}
                conn.execute(webhook_deliveries.insert().values(
                    id=delivery_id, subscription_id=s.id, tenant=tenant, event=event,
                    payload=payload, status="pending", attempts=0, next_attempt_at=now,
                    created_at=now))
        self._wake()
        return len(subs)

    def deliveries(self, tenant: str, subscription_id: str | None = None,
                   limit: int = 100) -> list[Delivery]:
        q = select(webhook_deliveries).where(webhook_deliveries.c.tenant == tenant)
        if subscription_id:
            q = q.where(webhook_deliveries.c.subscription_id == subscription_id)
        with self._s.engine.connect() as conn:
            rows = conn.execute(q.order_by(webhook_deliveries.c.created_at.desc())
                                .limit(limit)).all()
        return [_delivery(r) for r in rows]

    def redeliver(self, tenant: str, delivery_id: str) -> Delivery:
        with self._s.engine.begin() as conn:
            res = conn.execute(update(webhook_deliveries).where(
                webhook_deliveries.c.id == delivery_id,
                webhook_deliveries.c.tenant == tenant).values(
                status="pending", next_attempt_at=datetime.now(UTC), attempts=0))
            if res.rowcount != 1:
                raise NotFound("webhook.delivery_not_found", "Không tìm thấy.", "Not found.")
            row = conn.execute(select(webhook_deliveries).where(
                webhook_deliveries.c.id == delivery_id)).first()
        self._wake()
        return _delivery(row)

    def _wake(self) -> None:
        """Deliver soon: a durable job on PostgreSQL (any worker), else the in-process
        scheduler's next turn."""
        queue = self._s.queue
        if queue is not None:
            try:
                queue.defer("deliver_webhooks", queueing_lock="webhooks-now")
            except Exception:  # the deliveries are stored: the periodic sweep posts them
                log.warning("could not queue webhook delivery", exc_info=True)
            return
        sched = self._s.__dict__.get("scheduler")
        if sched is not None:
            sched.wake()

    def next_attempt_at(self) -> datetime | None:
        """When the earliest pending delivery is due (a retry waiting for its backoff)."""
        with self._s.engine.connect() as conn:
            value = conn.execute(select(func.min(webhook_deliveries.c.next_attempt_at)).where(
                webhook_deliveries.c.status == "pending")).scalar()
        return _utc(value)

    def pending_count(self) -> int:
        with self._s.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(webhook_deliveries).where(
                webhook_deliveries.c.status == "pending")).scalar() or 0)

    # --- delivery ---------------------------------------------------------------------------
    def deliver_due(self) -> int:
        """Post every due delivery once; returns how many were delivered."""
        import httpx

        if not self._lock.acquire(blocking=False):
            return 0
        try:
            now = datetime.now(UTC)
            with self._s.engine.connect() as conn:
                due = conn.execute(select(webhook_deliveries, webhook_subscriptions.c.url,
                                          webhook_subscriptions.c.signing,
                                          webhook_subscriptions.c.secret)
                                   .join(webhook_subscriptions, webhook_subscriptions.c.id
                                         == webhook_deliveries.c.subscription_id)
                                   .where(webhook_deliveries.c.status == "pending",
                                          webhook_deliveries.c.next_attempt_at <= now)
                                   .limit(100)).all()
            delivered = 0
            with httpx.Client(timeout=self.timeout_s, follow_redirects=False) as client:
                for r in due:
                    if not self._claim(r.id, now):
                        continue  # another worker took it
                    body = json.dumps(r.payload, ensure_ascii=False, sort_keys=True).encode()
                    headers = {"Content-Type": "application/json", "X-Hsba-Event": r.event,
                               "X-Hsba-Delivery": r.id, **self._signature(r, body)}
                    status: int | None = None
                    error: str | None = None
                    try:
                        resp = client.post(r.url, content=body, headers=headers)
                        status = resp.status_code
                        ok = 200 <= status < 300
                        if not ok:
                            error = f"HTTP {status}"
                    except httpx.HTTPError as e:
                        ok, error = False, type(e).__name__
                    self._record(r, ok, status, error)
                    delivered += int(ok)
            metrics = getattr(self._s, "metrics", None)
            if metrics is not None:
                metrics.queue_depth.labels(queue="webhooks").set(self.pending_count())
            return delivered
        finally:
            self._lock.release()

    def _claim(self, delivery_id: str, now: datetime) -> bool:
        """Take one due delivery for this attempt (compare-and-set on its due time, so two
        workers never post it twice); a worker that dies mid-post leaves it due again
        after the lease."""
        lease = timedelta(seconds=2 * self.timeout_s + 30)
        with self._s.engine.begin() as conn:
            res = conn.execute(update(webhook_deliveries).where(
                webhook_deliveries.c.id == delivery_id,
                webhook_deliveries.c.status == "pending",
                webhook_deliveries.c.next_attempt_at <= now).values(next_attempt_at=now + lease))
        return res.rowcount == 1

    def _record(self, r: Any, ok: bool, status: int | None, error: str | None) -> None:
        attempts = r.attempts + 1
        now = datetime.now(UTC)
        values: dict[str, Any] = {"attempts": attempts, "last_status": status,
                                  "last_error": error}
        if ok:
            values.update(status="delivered", delivered_at=now)
        elif attempts >= self.max_attempts:
            values.update(status="failed")
        else:
            wait = min(self.max_backoff_s, self.backoff_base_s * (2 ** (attempts - 1)))
            values.update(next_attempt_at=now + timedelta(seconds=wait))
        with self._s.engine.begin() as conn:
            conn.execute(update(webhook_deliveries).where(webhook_deliveries.c.id == r.id)
                         .values(**values))
        log.info("webhook attempt", extra={"delivery_id": r.id, "ok": ok, "attempt": attempts})

    def _signature(self, r: Any, body: bytes) -> dict[str, str]:
        if r.signing == "hmac":
            mac = hmac.new((r.secret or "").encode(), body, hashlib.sha256).hexdigest()
            return {"X-Hsba-Signature": f"sha256={mac}"}
        return {"X-Hsba-JWS": self.jws(r.tenant, body)}

    def jws(self, tenant: str, body: bytes) -> str:
        """Detached compact JWS (RFC 7515 appendix F) with the hospital's seal key."""
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        from workflow.seeding import tenant_seal_key

        key_id = tenant_seal_key(self._s, tenant)
        ks = self._s.keystore
        cert = ks.certificate(key_id)
        ec = cert.public_key.algorithm == "ec"
        header = {"alg": "ES256" if ec else "RS256", "kid": key_id,
                  "x5c": [base64.b64encode(cert.dump()).decode()]}
        signing_input = f"{_b64u(json.dumps(header).encode())}.{_b64u(body)}".encode()
        sig = ks.sign_raw(key_id, signing_input, "sha256")
        if ec:
            r_, s_ = decode_dss_signature(sig)
            sig = r_.to_bytes(32, "big") + s_.to_bytes(32, "big")
        return f"{signing_input.split(b'.')[0].decode()}..{_b64u(sig)}"


def _delivery(r: Any) -> Delivery:
    return Delivery(r.id, r.subscription_id, r.event, r.status, r.attempts,
                    _utc(r.next_attempt_at), r.last_status, r.last_error,  # type: ignore[arg-type]
                    _utc(r.created_at), _utc(r.delivered_at))  # type: ignore[arg-type]


def register_jobs(services: Any) -> None:
    services.scheduler.add("webhooks", services.webhooks.deliver_due)
