"""A TEST DOUBLE of a Viettel MySign-shaped remote-signing service.

This is not Viettel's service: it cannot be reached from here. It follows the
endpoint names, the ``async`` polling mode and the numeric statuses of MySign's
published integration notes — ``/vtss/service/ras/v1/login`` (integrator
``client_id``/``client_secret`` + the subscriber's ``user_id`` → a bearer token valid
3600 s), ``/vtss/service/certificates/info`` (→ ``credential_id`` and the chain),
``/vtss/service/signHash`` (base64 SHA-256 hashes, ``async: 1`` → ``transactionId``),
``/vtss/service/requests/status`` (4000 waiting, 4002 rejected, 13004 certificate
revoked or expired, 1 done) — with field names of its own where the notes give none
(``documents[]`` of ``{document_id, data|signature}``; 4003 for an expired request).

"The subscriber confirms in the MySign app" is the test calling :meth:`confirm`, which
signs each hash with a key certified by a development PKI (RSA PKCS#1 v1.5, the
``rsaEncryption`` signAlgo). Served by uvicorn on a loopback port (real HTTP).
"""

from __future__ import annotations

import base64
import secrets
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

CLIENT_ID, CLIENT_SECRET = "hsba-test-integrator", "mysign-double-secret"
USER_ID = "079198765432"  # a made-up CCCD-shaped subscriber id


class MySignDouble:
    """State and HTTP app of the double (see the module docstring)."""

    def __init__(self, pki_dir: Path) -> None:
        from asn1crypto import keys

        self.pki = DevPki.load_or_create(pki_dir)
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pub = keys.PublicKeyInfo.load(self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
        self.cert = self.pki.issue_practitioner(pub, PractitionerSubject(
            name="Lê Văn Ký", title="Bác sĩ", facility="BV Demo", practitioner_id="p-mysign"))
        self.credential_id = uuid.uuid4().hex
        self.tokens: dict[str, str] = {}
        self.logins = 0
        self.requests: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.app = self._build()

    # --- the subscriber's phone app, driven by the test --------------------------------
    def confirm(self, code: str) -> None:
        with self._lock:
            req = self.requests[code]
            for d in req["documents"]:
                d["signature"] = base64.b64encode(self.key.sign(
                    base64.b64decode(d["data"]), padding.PKCS1v15(),
                    utils.Prehashed(SHA256()))).decode()
            req["status"] = 1

    def set_status(self, code: str, status: int) -> None:
        with self._lock:
            self.requests[code]["status"] = status

    # --- HTTP ------------------------------------------------------------------------
    def _build(self) -> FastAPI:
        app = FastAPI(title="MySign-shaped remote signing DOUBLE (tests only)")

        def error(message: str, status: int) -> JSONResponse:
            return JSONResponse({"code": status, "message": message}, status_code=status)

        def user_of(request: Request) -> str | None:
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            return self.tokens.get(token)

        @app.post("/vtss/service/ras/v1/login")
        async def login(request: Request) -> JSONResponse:
            body = await request.json()
            if body.get("client_id") != CLIENT_ID or body.get("client_secret") != CLIENT_SECRET:
                return error("invalid client", 401)
            if body.get("user_id") != USER_ID:
                return error("user not found", 404)
            token = secrets.token_urlsafe(24)
            self.tokens[token] = body["user_id"]
            self.logins += 1
            return JSONResponse({"access_token": token, "token_type": "Bearer",
                                 "expires_in": 3600})

        @app.post("/vtss/service/certificates/info")
        async def certificates(request: Request) -> JSONResponse:
            if user_of(request) is None:
                return error("unauthorized", 401)
            chain = [self.cert, *self.pki.chain()]
            return JSONResponse([{
                "credential_id": self.credential_id, "cert": {
                    "status": "valid",
                    "certificates": [base64.b64encode(c.dump()).decode() for c in chain]},
                "key": {"algo": ["1.2.840.113549.1.1.1"], "len": 2048}}])

        @app.post("/vtss/service/signHash")
        async def sign_hash(request: Request) -> JSONResponse:
            if user_of(request) is None:
                return error("unauthorized", 401)
            body = await request.json()
            docs = body.get("documents") or []
            if body.get("credential_id") != self.credential_id or body.get("async") != 1 \
                    or not docs or body.get("numSignatures") != len(docs) \
                    or any(len(base64.b64decode(d["data"])) != 32 for d in docs):
                return error("invalid request", 400)
            code = uuid.uuid4().hex
            with self._lock:
                self.requests[code] = {"status": 4000, "documents": [
                    {"document_id": d["document_id"], "data": d["data"]} for d in docs]}
            return JSONResponse({"transactionId": code, "status": 4000})

        @app.post("/vtss/service/requests/status")
        async def status(request: Request) -> JSONResponse:
            if user_of(request) is None:
                return error("unauthorized", 401)
            code = (await request.json()).get("transactionId")
            with self._lock:
                req = self.requests.get(code)
                if req is None:
                    return error("transaction not found", 404)
                out: dict[str, Any] = {"transactionId": code, "status": req["status"]}
                if req["status"] == 1:
                    out["documents"] = [{"document_id": d["document_id"],
                                         "signature": d["signature"]}
                                        for d in req["documents"]]
            return JSONResponse(out)

        return app
