"""Devices at the bedside: the fingerprint reader and the OTP channel.

Only evidence hashes leave these adapters: a reader returns the SHA-256 of
its match record (template hash, reader id, time), never the template or an
image. The development adapters stand in for hardware and a phone gateway,
say so in their names and on the page, and are refused in production.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from core.errors import ConfigurationError, InvalidInput


@dataclass(frozen=True)
class FingerprintCapture:
    """What the kiosk keeps of a fingerprint: hashes and the device, nothing else."""

    evidence_sha256: str
    template_sha256: str
    device_id: str
    captured_at: str
    development: bool


class FingerprintReader(Protocol):
    """A reader adapter (vendor SDK behind it); ``capture`` blocks until a finger is read."""

    device_id: str

    def capture(self, document_sha256: str) -> FingerprintCapture: ...


def _refuse_in_production(env: str, name: str) -> None:
    if env == "production":
        raise ConfigurationError(
            "device.development_adapter",
            f"{name} chỉ dùng cho phát triển, không dùng trong production.",
            f"{name} is for development only and is refused in production.")


class DevFingerprintReader:
    """DEVELOPMENT ONLY: stands in for a fingerprint reader. It invents a random
    template for each capture and keeps only its hash (as a real adapter must)."""

    development = True

    def __init__(self, env: str, device_id: str = "dev-fingerprint-reader") -> None:
        _refuse_in_production(env, "DevFingerprintReader")
        self.device_id = device_id

    def capture(self, document_sha256: str) -> FingerprintCapture:
        template = secrets.token_bytes(512)  # stands in for the reader's template
        template_sha = hashlib.sha256(template).hexdigest()
        del template
        at = datetime.now(UTC).isoformat()
        record = json.dumps({"template_sha256": template_sha, "device": self.device_id,
                             "document_sha256": document_sha256, "captured_at": at},
                            sort_keys=True).encode()
        return FingerprintCapture(hashlib.sha256(record).hexdigest(), template_sha,
                                  self.device_id, at, True)


class DevOtpSender:
    """DEVELOPMENT ONLY: issues a 6-digit code for a document and shows it on the
    page instead of sending an SMS. Codes expire after 5 minutes, one use."""

    development = True
    ttl_s = 300

    def __init__(self, env: str) -> None:
        _refuse_in_production(env, "DevOtpSender")
        self._codes: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def send(self, kiosk: str, document_id: str) -> str:
        code = f"{secrets.randbelow(1_000_000):06d}"
        with self._lock:
            self._codes[f"{kiosk}/{document_id}"] = (
                hashlib.sha256(code.encode()).hexdigest(), time.monotonic() + self.ttl_s)
        return code

    def verify(self, kiosk: str, document_id: str, code: str, document_sha256: str) -> str:
        """The evidence hash of a successful check; ``InvalidInput`` otherwise."""
        with self._lock:
            stored = self._codes.pop(f"{kiosk}/{document_id}", None)
        digest = hashlib.sha256(code.strip().encode()).hexdigest()
        if stored is None or stored[1] < time.monotonic() or not hmac.compare_digest(
                stored[0], digest):
            raise InvalidInput("confirm.bad_otp", "Mã OTP không đúng hoặc đã hết hạn.",
                               "The OTP code is wrong or expired.")
        record = json.dumps({"method": "otp", "channel": "dev", "document_sha256":
                             document_sha256, "verified_at": datetime.now(UTC).isoformat()},
                            sort_keys=True).encode()
        return hashlib.sha256(record).hexdigest()
