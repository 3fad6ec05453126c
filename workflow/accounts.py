"""Who may log in: staff (password + TOTP), hospital systems (OAuth2 client
credentials) and kiosks (device secrets bound to a department).

Secrets are stored as scrypt hashes (``hashlib.scrypt``, no extra dependency);
TOTP secrets as the base32 seed pyotp needs. Callers get :class:`Account`
values, never rows.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

import pyotp
from sqlalchemy import select
from sqlalchemy.engine import Engine

from core.errors import Conflict, Unauthorized
from workflow.db import accounts

ROLES = (
    "clinician",
    "nurse",
    "head_of_department",
    "cashier",
    "kiosk",
    "auditor",
    "integration",
    "admin",
)
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        secret.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def check_secret(secret: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        algo, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if algo != "scrypt":
            return False
        digest = hashlib.scrypt(
            secret.encode(),
            salt=base64.b64decode(salt_b64),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=32,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, base64.b64decode(digest_b64))


@dataclass(frozen=True)
class Account:
    """A login identity of one hospital (tenant)."""

    id: str
    tenant: str
    kind: str
    """``staff``, ``client`` (hospital system) or ``device`` (kiosk)."""
    username: str
    role: str
    practitioner_id: str | None = None
    key_id: str | None = None
    """The keystore key this practitioner signs with."""
    department: str | None = None
    display_name: str | None = None


def _bad_login() -> Unauthorized:
    return Unauthorized(
        "auth.bad_credentials",
        "Sai thông tin đăng nhập.",
        "Invalid credentials.",
    )


class AccountStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(
        self,
        *,
        tenant: str,
        kind: str,
        username: str,
        role: str,
        secret: str,
        totp_secret: str | None = None,
        signing_pin: str | None = None,
        practitioner_id: str | None = None,
        key_id: str | None = None,
        department: str | None = None,
        display_name: str | None = None,
    ) -> Account:
        if role not in ROLES:
            raise ValueError(f"unknown role {role}")
        if self.find(kind, username) is not None:
            raise Conflict(
                "account.exists", "Tài khoản đã tồn tại.", "The account already exists."
            )
        account_id = uuid.uuid4().hex
        with self._engine.begin() as conn:
            conn.execute(
                accounts.insert().values(
                    id=account_id,
                    tenant=tenant,
                    kind=kind,
                    username=username,
                    role=role,
                    secret_hash=hash_secret(secret),
                    totp_secret=totp_secret,
                    signing_pin_hash=hash_secret(signing_pin) if signing_pin else None,
                    practitioner_id=practitioner_id,
                    key_id=key_id,
                    department=department,
                    display_name=display_name,
                    active=1,
                )
            )
        return Account(
            account_id, tenant, kind, username, role, practitioner_id, key_id, department,
            display_name,
        )

    def find(self, kind: str, username: str) -> Account | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(accounts).where(accounts.c.kind == kind, accounts.c.username == username)
            ).first()
        return _to_account(row) if row else None

    def get(self, account_id: str) -> Account | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(accounts).where(accounts.c.id == account_id)).first()
        return _to_account(row) if row and row.active else None

    def count(self) -> int:
        with self._engine.connect() as conn:
            return len(conn.execute(select(accounts.c.id)).all())

    def authenticate(
        self, kind: str, username: str, secret: str, totp: str | None = None
    ) -> Account:
        """Check a secret (and TOTP for staff); the same error for every failure."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(accounts).where(accounts.c.kind == kind, accounts.c.username == username)
            ).first()
        if row is None or not row.active:
            check_secret(secret, hash_secret("timing-equaliser"))
            raise _bad_login()
        if not check_secret(secret, row.secret_hash):
            raise _bad_login()
        if row.totp_secret and (
                not totp or not pyotp.TOTP(row.totp_secret).verify(totp, valid_window=1)):
            raise _bad_login()
        return _to_account(row)

    def check_signing_factor(self, account_id: str, *, pin: str | None, totp: str | None) -> bool:
        """The practitioner's own signing factor: their signing PIN or a current TOTP."""
        with self._engine.connect() as conn:
            row = conn.execute(select(accounts).where(accounts.c.id == account_id)).first()
        if row is None or not row.active:
            return False
        if pin and row.signing_pin_hash and check_secret(pin, row.signing_pin_hash):
            return True
        if totp and row.totp_secret:
            return bool(pyotp.TOTP(row.totp_secret).verify(totp, valid_window=1))
        return False


def _to_account(row) -> Account:  # type: ignore[no-untyped-def]
    return Account(
        id=row.id,
        tenant=row.tenant,
        kind=row.kind,
        username=row.username,
        role=row.role,
        practitioner_id=row.practitioner_id,
        key_id=row.key_id,
        department=row.department,
        display_name=row.display_name,
    )
