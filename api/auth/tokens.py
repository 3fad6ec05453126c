"""Access tokens: JWTs made and checked with python-jose.

Checks, in this order: size cap before any parsing; header ``alg`` in the
allow-list (RS256, ES256: never ``none`` nor HS*); ``kid`` names a key of the
ring and the header's ``alg`` is that key's own algorithm (so an HS256 token
"signed" with the public key is refused before any HMAC is computed); then the
signature, ``iss``, ``aud``, ``exp``, ``iat`` and ``sub``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from jose import JWTError, jwk, jwt

from api.auth.keys import TokenKeyRing
from core.errors import Unauthorized

ALLOWED_ALGS = frozenset({"RS256", "ES256"})
MAX_TOKEN_BYTES = 8 * 1024
VERIFIED_CACHE_SIZE = 4096
"""Tokens whose signature and claims were checked, kept until they expire (a client
sends the same token with every request: the check is done once, not per request)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling, as the token says."""

    subject: str
    """Account id."""
    tenant: str
    """Hospital code: every query is filtered by it."""
    role: str
    kind: str
    """``staff``, ``client`` or ``device``."""
    username: str = ""
    practitioner_id: str | None = None
    department: str | None = None
    token_id: str = ""
    scopes: tuple[str, ...] = field(default_factory=tuple)


def _refuse(reason: str) -> Unauthorized:
    return Unauthorized(
        "auth.invalid_token",
        "Mã truy cập không hợp lệ hoặc đã hết hạn.",
        "The access token is invalid or expired.",
        details={"reason": reason},
    )


class TokenService:
    def __init__(
        self, ring: TokenKeyRing, *, issuer: str, audience: str, ttl_s: int = 900
    ) -> None:
        self.ring = ring
        self.issuer = issuer
        self.audience = audience
        self.ttl_s = ttl_s
        self._verified: OrderedDict[str, tuple[Principal, float, str]] = OrderedDict()
        self._public: dict[str, Any] = {}
        """kid → the jose key object, parsed once."""
        self._lock = threading.Lock()

    def issue(self, principal: Principal, *, ttl_s: int | None = None) -> tuple[str, int]:
        now = int(time.time())
        ttl = ttl_s or self.ttl_s
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": principal.subject,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
            "hsba:tenant": principal.tenant,
            "hsba:role": principal.role,
            "hsba:kind": principal.kind,
            "hsba:username": principal.username,
        }
        if principal.practitioner_id:
            claims["hsba:practitioner"] = principal.practitioner_id
        if principal.department:
            claims["hsba:department"] = principal.department
        if principal.scopes:
            claims["scope"] = " ".join(principal.scopes)
        key = self.ring.active
        token = jwt.encode(claims, key.private_pem.decode(), algorithm=key.alg,
                           headers={"kid": key.kid})
        return token, ttl

    def verify(self, token: str) -> Principal:
        if len(token.encode("utf-8", "surrogatepass")) > MAX_TOKEN_BYTES:
            raise _refuse("too_large")
        with self._lock:
            hit = self._verified.get(token)
        if hit is not None:
            principal, exp, kid = hit
            # still unexpired (same leeway as the full check) and its key not retired
            if time.time() < exp + 30 and self.ring.get(kid) is not None:
                return principal
            with self._lock:
                self._verified.pop(token, None)
        principal, exp, kid = self._verify_fully(token)
        with self._lock:
            self._verified[token] = (principal, exp, kid)
            while len(self._verified) > VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)
        return principal

    def _public_key(self, key: Any) -> Any:
        with self._lock:
            cached = self._public.get(key.kid)
        if cached is None:
            cached = jwk.construct(key.public_pem.decode(), key.alg)
            with self._lock:
                self._public[key.kid] = cached
        return cached

    def _verify_fully(self, token: str) -> tuple[Principal, float, str]:
        try:
            header = jwt.get_unverified_header(token)
        except JWTError as e:
            raise _refuse("malformed") from e
        alg = header.get("alg")
        if alg not in ALLOWED_ALGS:
            raise _refuse("algorithm_not_allowed")
        kid = header.get("kid")
        key = self.ring.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise _refuse("unknown_kid")
        if alg != key.alg:
            raise _refuse("algorithm_mismatch")
        try:
            claims = jwt.decode(
                token,
                self._public_key(key),
                algorithms=[key.alg],
                audience=self.audience,
                issuer=self.issuer,
                options={
                    "require_exp": True,
                    "require_iat": True,
                    "require_sub": True,
                    "require_aud": True,
                    "require_iss": True,
                    "leeway": 30,
                },
            )
        except JWTError as e:
            raise _refuse("rejected") from e
        try:
            return Principal(
                subject=str(claims["sub"]),
                tenant=str(claims["hsba:tenant"]),
                role=str(claims["hsba:role"]),
                kind=str(claims["hsba:kind"]),
                username=str(claims.get("hsba:username", "")),
                practitioner_id=claims.get("hsba:practitioner"),
                department=claims.get("hsba:department"),
                token_id=str(claims.get("jti", "")),
                scopes=tuple(str(claims.get("scope", "")).split()),
            ), float(claims["exp"]), str(kid)
        except KeyError as e:
            raise _refuse("missing_claim") from e
