"""The API's token-signing keys: ES256 (P-256) key pairs under
``{data_dir}/api-keys/``, generated on first run, rotated on demand.

The newest key signs; every key not retired verifies and is published at
``/.well-known/jwks.json``. Private keys never leave this module's files.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwk


@dataclass(frozen=True)
class TokenKey:
    kid: str
    alg: str
    private_pem: bytes
    public_pem: bytes
    created: int

    def public_jwk(self) -> dict[str, Any]:
        data = jwk.construct(self.public_pem.decode(), self.alg).to_dict()
        data.update({"kid": self.kid, "use": "sig", "alg": self.alg})
        return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in data.items()}


class TokenKeyRing:
    """ES256 keys on disk; ``active`` signs, all listed keys verify."""

    ALG = "ES256"

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._lock = threading.Lock()
        self._keys: dict[str, TokenKey] = {}
        self._load()
        if not self._keys:
            self.rotate()

    def _load(self) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        index = self._dir / "keys.json"
        if not index.exists():
            return
        for entry in json.loads(index.read_text()):
            if entry.get("retired"):
                continue
            private_pem = (self._dir / f"{entry['kid']}.pem").read_bytes()
            self._keys[entry["kid"]] = _from_private(entry["kid"], private_pem, entry["created"])

    def _save_index(self, retired: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        index = self._dir / "keys.json"
        old = json.loads(index.read_text()) if index.exists() else []
        known = {e["kid"]: e for e in old}
        for k in self._keys.values():
            known.setdefault(k.kid, {"kid": k.kid, "created": k.created})
        for kid in retired:
            if kid in known:
                known[kid]["retired"] = True
        tmp = index.with_suffix(".tmp")
        tmp.write_text(json.dumps(sorted(known.values(), key=lambda e: e["created"]), indent=1))
        os.replace(tmp, index)

    def rotate(self) -> TokenKey:
        """Make a new signing key; older keys keep verifying until retired."""
        with self._lock:
            private = ec.generate_private_key(ec.SECP256R1())
            pem = private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            created = time.time_ns()
            kid = f"hsba-{created // 1_000_000}"
            path = self._dir / f"{kid}.pem"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
            key = _from_private(kid, pem, created)
            self._keys[kid] = key
            self._save_index()
            return key

    def retire(self, kid: str) -> None:
        with self._lock:
            if kid in self._keys and len(self._keys) > 1:
                del self._keys[kid]
                self._save_index({kid})

    @property
    def active(self) -> TokenKey:
        return max(self._keys.values(), key=lambda k: k.created)

    def get(self, kid: str) -> TokenKey | None:
        return self._keys.get(kid)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk() for k in sorted(self._keys.values(), key=lambda k: k.created)]}


def _from_private(kid: str, private_pem: bytes, created: int) -> TokenKey:
    private = serialization.load_pem_private_key(private_pem, password=None)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return TokenKey(kid, TokenKeyRing.ALG, private_pem, public_pem, created)
