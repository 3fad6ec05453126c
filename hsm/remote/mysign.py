"""Client for a Viettel MySign-shaped remote-signing service (app-confirmed, hash only).

The shape differs from SmartCA's: the integrator first logs in for each subscriber
(``/vtss/service/ras/v1/login`` with its ``client_id``/``client_secret`` and the
subscriber's ``user_id`` → a bearer token valid one hour, cached here per subscriber);
``/vtss/service/certificates/info`` gives the subscriber's ``credential_id`` and
certificate chain; ``/vtss/service/signHash`` takes base64 SHA-256 hashes with
``async: 1`` (the result is polled) and returns a ``transactionId``;
``/vtss/service/requests/status`` answers with a numeric status — 4000 waiting for
the subscriber, 4002 rejected, 13004 certificate revoked or expired, 1 done with the
signature values. The endpoint names, ``async`` modes and status codes follow
MySign's published integration notes; the remaining field names are this module's
(the service cannot be reached from here; tests use a double of this shape).

Signature values are raw RSA PKCS#1 v1.5 (``signAlgo`` rsaEncryption) over the hash
sent, which here is the digest of the CMS signed attributes hsba built. If a MySign
deployment returns a whole CMS instead, its signed attributes are not hsba's and the
value cannot be used: :class:`~hsm.remote.async_provider.AppConfirmedSigning` refuses
any value that does not verify against the hsba-built attributes.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Sequence
from typing import Any

import httpx
from asn1crypto import x509

from core.errors import KeyCustodyError
from hsm.remote.pending import ProviderResult
from hsm.remote.smartca import provider_error

__all__ = ["MySignClient"]

STATUS_DONE, STATUS_WAITING, STATUS_REJECTED, STATUS_CERT_INVALID = 1, 4000, 4002, 13004
STATUS_EXPIRED = 4003
"""This module's code for a request the subscriber let expire (no published value)."""
SHA256_OID, RSA_OID = "2.16.840.1.101.3.4.2.1", "1.2.840.113549.1.1.1"


class MySignClient:
    """:class:`~hsm.remote.pending.AppConfirmedProvider` for a MySign-shaped service."""

    def __init__(self, base_url: str, client_id: str, client_secret: str, *,
                 profile_id: str = "adss:ras:profile:001", timeout_s: float = 30) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = {"client_id": client_id, "client_secret": client_secret,
                        "profile_id": profile_id}
        self.timeout_s = timeout_s
        self._tokens: dict[str, tuple[str, float]] = {}
        """user_id → (bearer token, monotonic expiry); login again after a restart."""

    async def _post(self, path: str, body: dict[str, Any], token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as http:
                r = await http.post(f"{self.base_url}/vtss/service/{path}", json=body,
                                    headers=headers)
            data = r.json()
        except (httpx.HTTPError, ValueError) as e:
            raise KeyCustodyError(
                "remote.provider_unavailable", "Không kết nối được nhà cung cấp ký số từ xa.",
                "The remote signing provider could not be reached.",
                details={"operation": path.rsplit("/", 1)[-1]}) from e
        if r.status_code != 200:
            raise provider_error(path, data.get("message") if isinstance(data, dict) else r.text)
        return data

    async def _token(self, user_id: str) -> str:
        cached = self._tokens.get(user_id)
        if cached is not None and cached[1] > time.monotonic() + 60:
            return cached[0]
        data = await self._post("ras/v1/login", {**self._client, "user_id": user_id})
        token = str(data.get("access_token") or "")
        if not token:
            raise provider_error("login", data.get("message"))
        ttl = float(data.get("expires_in") or 3600)
        self._tokens[user_id] = (token, time.monotonic() + ttl)
        return token

    async def _credential(self, user_id: str) -> dict[str, Any]:
        data = await self._post("certificates/info", {"user_id": user_id},
                                await self._token(user_id))
        creds = data if isinstance(data, list) else []
        if not creds or not creds[0].get("credential_id"):
            raise provider_error("certificates/info", "no credential")
        return dict(creds[0])

    async def get_certificate(self, user_id: str) -> tuple[x509.Certificate,
                                                            list[x509.Certificate]]:
        certs = (await self._credential(user_id)).get("cert", {}).get("certificates") or []
        if not certs:
            raise provider_error("certificates/info", "no certificate")
        loaded = [x509.Certificate.load(base64.b64decode(c)) for c in certs]
        return loaded[0], loaded[1:]

    async def sign(self, user_id: str, transaction_id: str,
                   files: Sequence[tuple[str, str]]) -> str:
        credential = await self._credential(user_id)
        data = await self._post("signHash", {
            "client_id": self._client["client_id"], "user_id": user_id,
            "credential_id": credential["credential_id"], "refTranId": transaction_id,
            "numSignatures": len(files), "hashAlgorithm": SHA256_OID, "signAlgo": RSA_OID,
            "async": 1, "documents": [
                {"document_id": doc_id, "data": base64.b64encode(bytes.fromhex(h)).decode()}
                for doc_id, h in files]}, await self._token(user_id))
        code = str(data.get("transactionId") or "")
        if not code:
            raise provider_error("signHash", data.get("message"))
        return code

    async def status(self, tran_code: str, *, user_id: str = "") -> ProviderResult:
        """Polled with the subscriber's own token (MySign tokens are per subscriber)."""
        data = await self._post("requests/status", {"transactionId": tran_code},
                                await self._token(user_id))
        status = data.get("status")
        if status == STATUS_DONE:
            return ProviderResult("confirmed", {
                str(d["document_id"]): base64.b64decode(d["signature"])
                for d in data.get("documents") or [] if d.get("signature")})
        if status in (STATUS_REJECTED, STATUS_CERT_INVALID):
            return ProviderResult("rejected")
        if status == STATUS_EXPIRED:
            return ProviderResult("expired")
        return ProviderResult("pending")
