"""A TEST DOUBLE of an app-confirmed remote-signing provider (VNPT SmartCA shape).

This is not VNPT's service: the real providers cannot be reached from here. It
follows the request and response fields of the SmartCA gateway's published
integration notes — every call a POST with ``sp_id``/``sp_password``;
``v1/credentials/get_certificate`` → ``data.user_certificates[].cert_data`` and
``chain_data``; ``v1/signatures/sign`` with ``transaction_id`` and ``sign_files[]``
of ``{doc_id, file_type, sign_type: "hash", data_to_be_signed (hex)}`` →
``message: "sig_wait_for_user_confirm"`` and ``data.tran_code``;
``v1/signatures/sign/{tran_code}/status`` → ``data.signatures[]`` of
``{doc_id, signature_value (base64)}``. The ``data.status`` values
(``pending|confirmed|rejected|expired``) are this double's own naming.

"The user confirms in the app" is the test calling :meth:`ProviderDouble.confirm`,
which signs each hash with a key certified by a development PKI (RSA PKCS#1 v1.5,
as these providers return). Served by uvicorn on a loopback port (real HTTP).
"""

from __future__ import annotations

import base64
import threading
import uuid
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from cryptography.hazmat.primitives.hashes import SHA256
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from hsm.dev_pki import DevPki
from hsm.subjects import PractitionerSubject
from tests.loopback import LoopbackServer  # noqa: F401 - re-exported for the tests

SP_ID, SP_PASSWORD = "hsba-test-sp", "double-secret"
USER_ID = "079123456789"  # a made-up CCCD-shaped subscriber id


class ProviderDouble:
    """State and HTTP app of the double (see the module docstring)."""

    def __init__(self, pki_dir: Path) -> None:
        self.pki = DevPki.load_or_create(pki_dir)
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        from asn1crypto import keys

        pub = keys.PublicKeyInfo.load(self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
        self.cert = self.pki.issue_practitioner(pub, PractitionerSubject(
            name="Phạm Thị Thử", title="Bác sĩ", facility="BV Demo", practitioner_id="p-remote"))
        self.transactions: dict[str, dict[str, Any]] = {}
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.app = self._build()

    # --- the user's phone app, driven by the test --------------------------------
    def confirm(self, tran_code: str) -> None:
        with self._lock:
            tx = self.transactions[tran_code]
            tx["signatures"] = [
                {"doc_id": f["doc_id"], "signature_value": base64.b64encode(self.key.sign(
                    bytes.fromhex(f["data_to_be_signed"]), padding.PKCS1v15(),
                    utils.Prehashed(SHA256()))).decode()}
                for f in tx["sign_files"]]
            tx["status"] = "confirmed"

    def reject(self, tran_code: str) -> None:
        with self._lock:
            self.transactions[tran_code]["status"] = "rejected"

    def expire(self, tran_code: str) -> None:
        with self._lock:
            self.transactions[tran_code]["status"] = "expired"

    def notification(self, tran_code: str) -> dict[str, Any]:
        """What the provider would POST to the integrator's webhook."""
        return self._status_body(tran_code)

    def notify(self, tran_code: str, url: str, secret: bytes) -> Any:
        """POST the notification to the integrator's webhook, the body signed with the
        shared secret (HMAC-SHA256, ``X-Signature: sha256=<hex>``); the response."""
        import hashlib
        import hmac
        import json

        import httpx

        body = json.dumps(self.notification(tran_code)).encode()
        signature = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        return httpx.post(url, content=body, headers={
            "Content-Type": "application/json", "X-Signature": signature}, timeout=60)

    def _status_body(self, tran_code: str) -> dict[str, Any]:
        with self._lock:
            tx = self.transactions[tran_code]
            return {"status_code": 200, "message": tx["status"].upper(), "data": {
                "transaction_id": tx["transaction_id"], "tran_code": tran_code,
                "status": tx["status"], "signatures": tx.get("signatures"),
                "timestamp_signature": None}}

    # --- HTTP ------------------------------------------------------------------------
    def _build(self) -> FastAPI:
        app = FastAPI(title="SmartCA-shaped provider DOUBLE (tests only)")

        def refuse(message: str, status: int = 400) -> JSONResponse:
            return JSONResponse({"status_code": status, "message": message, "data": None},
                                status_code=status)

        async def body_of(request: Request) -> dict[str, Any] | None:
            body = await request.json()
            if body.get("sp_id") != SP_ID or body.get("sp_password") != SP_PASSWORD:
                return None
            self.requests.append({"path": request.url.path, **body})
            return dict(body)

        @app.post("/v1/credentials/get_certificate")
        async def get_certificate(request: Request) -> JSONResponse:
            body = await body_of(request)
            if body is None:
                return refuse("invalid sp credentials", 401)
            if body.get("user_id") != USER_ID:
                return refuse("user not found", 404)
            chain = self.pki.chain()
            return JSONResponse({"status_code": 200, "message": "success", "data": {
                "user_certificates": [{
                    "service_type": "SMARTCA", "serial_number": f"{self.cert.serial_number:x}",
                    "cert_data": base64.b64encode(self.cert.dump()).decode(),
                    "chain_data": {"ca_cert": base64.b64encode(chain[0].dump()).decode(),
                                   "root_cert": base64.b64encode(chain[-1].dump()).decode()},
                }]}})

        @app.post("/v1/signatures/sign")
        async def sign(request: Request) -> JSONResponse:
            body = await body_of(request)
            if body is None:
                return refuse("invalid sp credentials", 401)
            files = body.get("sign_files") or []
            if body.get("user_id") != USER_ID or not body.get("transaction_id") or not files:
                return refuse("invalid request")
            for f in files:
                if f.get("sign_type") != "hash" or len(bytes.fromhex(f["data_to_be_signed"])) != 32:
                    return refuse("invalid data_to_be_signed")
            tran_code = uuid.uuid4().hex
            with self._lock:
                self.transactions[tran_code] = {"transaction_id": body["transaction_id"],
                                                "sign_files": files, "status": "pending"}
            return JSONResponse({"status_code": 200, "message": "sig_wait_for_user_confirm",
                                 "data": {"transaction_id": body["transaction_id"],
                                          "tran_code": tran_code}})

        @app.post("/v1/signatures/sign/{tran_code}/status")
        async def status(tran_code: str, request: Request) -> JSONResponse:
            if await body_of(request) is None:
                return refuse("invalid sp credentials", 401)
            if tran_code not in self.transactions:
                return refuse("transaction not found", 404)
            return JSONResponse(self._status_body(tran_code))

        return app


