"""Webhooks: delivery survives the receiver being down for a while (retries with
backoff by the in-process scheduler), payloads are signed (HMAC, and JWS with the
hospital's seal key), the delivery log and redelivery work. A real HTTP receiver
on loopback (``http.server``) stands in for the hospital system."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding

from tests.api.conftest import ApiEnv
from tests.loopback import free_port as _free_port


class Receiver:
    def __init__(self, port: int) -> None:
        self.port = port
        self.received: list[tuple[dict[str, str], bytes]] = []
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()


def _wait(pred: Any, timeout: float = 60) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.1)
    return False


def test_delivery_survives_receiver_downtime(api_env: ApiEnv) -> None:
    env = api_env
    hub = env.services.webhooks
    hub.backoff_base_s = 0.3
    env.services.start_background()
    port = _free_port()
    admin = env.headers("admin")
    r = env.client.post("/api/v1/webhooks", headers=admin, json={
        "url": f"http://127.0.0.1:{port}/hsba", "events": ["document.created"],
        "signing": "hmac"})
    assert r.status_code == 201
    sub = r.json()
    secret = sub["secret"]
    r = env.client.post("/api/v1/webhooks", headers=admin, json={
        "url": f"http://127.0.0.1:{port}/hsba-jws", "events": ["document.created"],
        "signing": "jws"})
    jws_sub = r.json()
    try:
        # the receiver is down: the event is queued and retried
        assert hub.emit("70001", "document.created", {"document_id": "d-1"}) == 2
        assert _wait(lambda: all(d.attempts >= 2 for d in hub.deliveries("70001")
                                 if d.subscription_id in (sub["id"], jws_sub["id"])))
        log = env.client.get("/api/v1/webhooks/deliveries", headers=admin).json()
        mine = [d for d in log if d["subscription_id"] == sub["id"]]
        assert mine and mine[0]["status"] == "pending" and mine[0]["last_error"]
        # it comes back: the next retry delivers
        receiver = Receiver(port)
        receiver.start()
        try:
            assert _wait(lambda: len(receiver.received) >= 2, timeout=90)
            by_path = {h.get("x-hsba-delivery"): (h, b) for h, b in receiver.received}
            hmac_msgs = [(h, b) for h, b in receiver.received if "x-hsba-signature" in h]
            jws_msgs = [(h, b) for h, b in receiver.received if "x-hsba-jws" in h]
            assert hmac_msgs and jws_msgs and by_path
            h, body = hmac_msgs[0]
            want = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            assert h["x-hsba-signature"] == f"sha256={want}"
            assert json.loads(body)["data"] == {"document_id": "d-1"}
            _check_jws(*jws_msgs[0])
            assert _wait(lambda: all(d.status == "delivered" for d in hub.deliveries("70001")
                                     if d.subscription_id in (sub["id"], jws_sub["id"])))
            # redelivery on request
            delivery_id = mine[0]["id"]
            count = len(receiver.received)
            r = env.client.post(f"/api/v1/webhooks/deliveries/{delivery_id}/redeliver",
                                headers=admin)
            assert r.status_code == 200
            assert _wait(lambda: len(receiver.received) > count)
        finally:
            receiver.stop()
    finally:
        for s in (sub, jws_sub):
            env.client.delete(f"/api/v1/webhooks/{s['id']}", headers=admin)


def _check_jws(headers: dict[str, str], body: bytes) -> None:
    """Detached JWS: verify it with the certificate it carries (the hospital seal)."""
    protected, empty, sig = headers["x-hsba-jws"].split(".")
    assert empty == ""
    header = json.loads(base64.urlsafe_b64decode(protected + "=" * (-len(protected) % 4)))
    cert = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    payload = base64.urlsafe_b64encode(body).rstrip(b"=").decode()
    signing_input = f"{protected}.{payload}".encode()
    raw = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
    key = cert.public_key()
    if header["alg"] == "RS256":
        key.verify(raw, signing_input, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr]
    else:
        from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

        der = encode_dss_signature(int.from_bytes(raw[:32], "big"),
                                   int.from_bytes(raw[32:], "big"))
        key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg, union-attr]
    assert "Trung tâm Y tế" in cert.subject.rfc4514_string()
