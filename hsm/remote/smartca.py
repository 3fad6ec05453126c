"""HTTP client for a VNPT SmartCA-shaped gateway (published request/response fields):
every call a POST with ``sp_id``/``sp_password``; ``v1/credentials/get_certificate``;
``v1/signatures/sign`` (hash-only, several files) → ``tran_code``;
``v1/signatures/sign/{tran_code}/status``. The same ``data`` shape arrives by webhook.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import httpx
from asn1crypto import x509

from core.errors import KeyCustodyError
from hsm.remote.pending import ProviderResult

__all__ = ["SmartCaClient", "parse_result", "provider_error"]


def provider_error(what: str, detail: Any) -> KeyCustodyError:
    return KeyCustodyError(
        "remote.provider_error", f"Nhà cung cấp ký số từ xa báo lỗi ({what}).",
        f"The remote signing provider returned an error ({what}).",
        details={"operation": what, "provider": str(detail)[:200]})


class SmartCaClient:
    """HTTP client for a SmartCA-shaped gateway (every call a POST with ``sp_id``)."""

    def __init__(self, base_url: str, sp_id: str, sp_password: str, *,
                 timeout_s: float = 30) -> None:
        self.base_url = base_url.rstrip("/")
        self._auth = {"sp_id": sp_id, "sp_password": sp_password}
        self.timeout_s = timeout_s

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as http:
                r = await http.post(f"{self.base_url}/{path}", json={**self._auth, **body})
            data: dict[str, Any] = r.json()
        except (httpx.HTTPError, ValueError) as e:
            raise KeyCustodyError(
                "remote.provider_unavailable", "Không kết nối được nhà cung cấp ký số từ xa.",
                "The remote signing provider could not be reached.",
                details={"operation": path.split("/")[-1]}) from e
        if r.status_code != 200 or data.get("status_code", 200) != 200:
            raise provider_error(path, data.get("message"))
        return data

    async def get_certificate(self, user_id: str) -> tuple[x509.Certificate,
                                                            list[x509.Certificate]]:
        data = await self._post("v1/credentials/get_certificate", {"user_id": user_id})
        certs = data.get("data", {}).get("user_certificates") or []
        if not certs:
            raise provider_error("get_certificate", "no certificate")
        first = certs[0]
        cert = x509.Certificate.load(base64.b64decode(first["cert_data"]))
        chain = [x509.Certificate.load(base64.b64decode(c))
                 for c in (first.get("chain_data") or {}).values() if c]
        return cert, chain

    async def sign(self, user_id: str, transaction_id: str,
                   files: Sequence[tuple[str, str]]) -> str:
        data = await self._post("v1/signatures/sign", {
            "user_id": user_id, "transaction_id": transaction_id,
            "sign_files": [{"doc_id": d, "file_type": "pdf", "sign_type": "hash",
                            "data_to_be_signed": h} for d, h in files]})
        tran_code = (data.get("data") or {}).get("tran_code")
        if not tran_code:
            raise provider_error("sign", data.get("message"))
        return str(tran_code)

    async def status(self, tran_code: str, *, user_id: str = "") -> ProviderResult:
        data = await self._post(f"v1/signatures/sign/{tran_code}/status", {})
        return parse_result(data)


def parse_result(data: dict[str, Any]) -> ProviderResult:
    """A status answer or a webhook notification → :class:`ProviderResult`."""
    body = data.get("data") or {}
    status = str(body.get("status", "pending")).lower()
    if status not in ("pending", "confirmed", "rejected", "expired"):
        status = "pending"
    sigs = {str(s["doc_id"]): base64.b64decode(s["signature_value"])
            for s in body.get("signatures") or [] if s.get("signature_value")}
    return ProviderResult(status, sigs)  # type: ignore[arg-type]
