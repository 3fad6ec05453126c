"""Server-side state of the CSC service, in the workflow database.

- ``csc_sads``: signature activation data. Only the SHA-256 of a SAD is stored,
  with the credential, the principal it was issued to, the exact hashes it
  covers and their count, its expiry, and when it was used (single use: the
  row is consumed with a conditional ``UPDATE``).
- ``csc_credential_locks``: consecutive wrong PIN/OTP attempts per credential;
  at :data:`MAX_FAILED_ATTEMPTS` the credential is locked.
- ``csc_oauth_codes``: authorization codes (hashed) with their PKCE challenge.
- ``csc_otp_steps``: per credential, the TOTP time step of the last OTP accepted;
  an OTP is accepted only for a later step (RFC 6238 §5.2: single use), so a replayed
  or older OTP is refused within its validity window, across restarts and processes.

The tables have their own metadata and are created on first use, so the
service runs on SQLite and PostgreSQL alike and survives restarts.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    select,
    update,
)

__all__ = ["MAX_FAILED_ATTEMPTS", "CscState", "IssuedSad", "OAuthCode", "SadRecord"]

MAX_FAILED_ATTEMPTS = 5
"""Wrong PIN/OTP attempts in a row that lock a credential."""

metadata = MetaData()

csc_sads = Table(
    "csc_sads", metadata,
    Column("sad_sha256", String(64), primary_key=True),
    Column("credential_id", String(128), nullable=False),
    Column("subject", String(64), nullable=False),
    Column("hashes", JSON, nullable=False),
    Column("num_signatures", Integer, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
)

csc_credential_locks = Table(
    "csc_credential_locks", metadata,
    Column("credential_id", String(128), primary_key=True),
    Column("failures", Integer, nullable=False, default=0),
    Column("locked_at", DateTime(timezone=True)),
)

csc_oauth_codes = Table(
    "csc_oauth_codes", metadata,
    Column("code_sha256", String(64), primary_key=True),
    Column("account_id", String(64), nullable=False),
    Column("client_id", String(128), nullable=False),
    Column("redirect_uri", String(1024), nullable=False),
    Column("code_challenge", String(128), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
)


csc_otp_steps = Table(
    "csc_otp_steps", metadata,
    Column("credential_id", String(128), primary_key=True),
    Column("last_step", BigInteger, nullable=False),
)


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)  # SQLite drops the zone


@dataclass(frozen=True)
class IssuedSad:
    sad: str
    expires_in: int


@dataclass(frozen=True)
class SadRecord:
    credential_id: str
    subject: str
    hashes: tuple[str, ...]
    """Hex of each authorised hash, sorted."""
    num_signatures: int
    expires_at: datetime
    used: bool


@dataclass(frozen=True)
class OAuthCode:
    account_id: str
    client_id: str
    redirect_uri: str
    code_challenge: str
    expires_at: datetime


class CscState:
    """SADs, lock counters and authorization codes (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        metadata.create_all(engine, checkfirst=True)

    # --- SAD -------------------------------------------------------------------
    def issue_sad(self, credential_id: str, subject: str, hashes_hex: list[str],
                  num_signatures: int, ttl_s: int) -> IssuedSad:
        sad = secrets.token_urlsafe(32)
        with self._engine.begin() as conn:
            conn.execute(csc_sads.insert().values(
                sad_sha256=_sha(sad), credential_id=credential_id, subject=subject,
                hashes=sorted(hashes_hex), num_signatures=num_signatures,
                expires_at=datetime.now(UTC) + timedelta(seconds=ttl_s)))
        return IssuedSad(sad, ttl_s)

    def find_sad(self, sad: str) -> SadRecord | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(csc_sads).where(csc_sads.c.sad_sha256 == _sha(sad))).first()
        if row is None:
            return None
        return SadRecord(row.credential_id, row.subject, tuple(row.hashes), row.num_signatures,
                         _aware(row.expires_at), row.used_at is not None)

    def consume_sad(self, sad: str) -> bool:
        """Mark the SAD used; False if it already was (a concurrent replay)."""
        with self._engine.begin() as conn:
            result = conn.execute(update(csc_sads).where(
                csc_sads.c.sad_sha256 == _sha(sad), csc_sads.c.used_at.is_(None),
            ).values(used_at=datetime.now(UTC)))
        return result.rowcount == 1

    # --- wrong PIN / OTP lock --------------------------------------------------------
    def is_locked(self, credential_id: str) -> bool:
        with self._engine.connect() as conn:
            row = conn.execute(select(csc_credential_locks.c.locked_at).where(
                csc_credential_locks.c.credential_id == credential_id)).first()
        return row is not None and row.locked_at is not None

    def record_failure(self, credential_id: str) -> int:
        """Count one wrong attempt; lock at the limit. Returns the count."""
        with self._engine.begin() as conn:
            row = conn.execute(select(csc_credential_locks).where(
                csc_credential_locks.c.credential_id == credential_id)).first()
            failures = (row.failures if row else 0) + 1
            locked = datetime.now(UTC) if failures >= MAX_FAILED_ATTEMPTS else None
            if row is None:
                conn.execute(csc_credential_locks.insert().values(
                    credential_id=credential_id, failures=failures, locked_at=locked))
            else:
                conn.execute(update(csc_credential_locks).where(
                    csc_credential_locks.c.credential_id == credential_id,
                ).values(failures=failures, locked_at=row.locked_at or locked))
        return failures

    def reset_failures(self, credential_id: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(update(csc_credential_locks).where(
                csc_credential_locks.c.credential_id == credential_id,
                csc_credential_locks.c.locked_at.is_(None),
            ).values(failures=0))

    def unlock(self, credential_id: str) -> None:
        """Administrative unlock (after the practitioner's identity is checked again)."""
        with self._engine.begin() as conn:
            conn.execute(update(csc_credential_locks).where(
                csc_credential_locks.c.credential_id == credential_id,
            ).values(failures=0, locked_at=None))

    # --- single-use OTP -----------------------------------------------------------------
    def use_otp_step(self, credential_id: str, step: int) -> bool:
        """Record ``step`` as the credential's last accepted TOTP step; False (nothing
        changed) if that step or a later one was already used. Atomic: a conditional
        ``UPDATE``, or an ``INSERT`` that a concurrent first use makes fail."""
        from sqlalchemy.exc import IntegrityError

        with self._engine.begin() as conn:
            done = conn.execute(update(csc_otp_steps).where(
                csc_otp_steps.c.credential_id == credential_id,
                csc_otp_steps.c.last_step < step).values(last_step=step))
            if done.rowcount == 1:
                return True
            exists = conn.execute(select(csc_otp_steps.c.last_step).where(
                csc_otp_steps.c.credential_id == credential_id)).first()
            if exists is not None:
                return False
        try:
            with self._engine.begin() as conn:
                conn.execute(csc_otp_steps.insert().values(credential_id=credential_id,
                                                           last_step=step))
        except IntegrityError:
            return self.use_otp_step(credential_id, step)  # a concurrent first use won
        return True

    # --- OAuth2 authorization codes ----------------------------------------------
    def issue_code(self, account_id: str, client_id: str, redirect_uri: str,
                   code_challenge: str, ttl_s: int = 120) -> str:
        code = secrets.token_urlsafe(32)
        with self._engine.begin() as conn:
            conn.execute(csc_oauth_codes.insert().values(
                code_sha256=_sha(code), account_id=account_id, client_id=client_id,
                redirect_uri=redirect_uri, code_challenge=code_challenge,
                expires_at=datetime.now(UTC) + timedelta(seconds=ttl_s)))
        return code

    def redeem_code(self, code: str) -> OAuthCode | None:
        """The code's record, consumed (single use); None if unknown, used or expired."""
        with self._engine.begin() as conn:
            row = conn.execute(select(csc_oauth_codes).where(
                csc_oauth_codes.c.code_sha256 == _sha(code))).first()
            if row is None or row.used_at is not None:
                return None
            done = conn.execute(update(csc_oauth_codes).where(
                csc_oauth_codes.c.code_sha256 == _sha(code), csc_oauth_codes.c.used_at.is_(None),
            ).values(used_at=datetime.now(UTC)))
            if done.rowcount != 1 or _aware(row.expires_at) < datetime.now(UTC):
                return None
        return OAuthCode(row.account_id, row.client_id, row.redirect_uri, row.code_challenge,
                         _aware(row.expires_at))
