"""Long-lived, pooled PKCS#11 sessions: no login per signature, lost sessions reopened.

PKCS#11 login state belongs to the *application* (the process), not to a
session: once one session is logged in, every session the process opens on
that token is, and ``C_Logout`` (which python-pkcs11 calls when it closes a
session that logged in) logs all of them out. So:

- one *login session* per (module, token) and process (:class:`_TokenLogin`),
  opened with the user PIN and kept open, shared by every pool on that token;
- a pool of *worker sessions* (:class:`SessionPool`) opened without a PIN, each
  used by one thread at a time, each caching the key handles it looked up;
- when an operation fails because the session or login is gone
  (``SessionHandleInvalid``, ``SessionClosed``, ``UserNotLoggedIn``,
  ``DeviceRemoved``, ``TokenNotPresent``...), the worker session is dropped, the
  login re-established if needed, and the operation retried once.

python-pkcs11 initialises the module with ``C_Initialize(NULL)``: the module
may then assume it is never called from two threads at once (SoftHSM2 then
runs without mutexes and crashes under concurrent calls). So every call into
one module is serialised by a process-wide lock (:func:`module_lock`); the
pool still saves the login and session set-up per signature. Scale signing
throughput with processes.

Vendor exceptions become :class:`core.errors.KeyCustodyError` here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, TypeVar

import pkcs11
from pkcs11 import exceptions as p11e

from core.errors import KeyCustodyError

__all__ = ["PooledSession", "SessionPool"]

log = logging.getLogger(__name__)

T = TypeVar("T")

LOST_SESSION_ERRORS: tuple[type[Exception], ...] = (
    p11e.SessionHandleInvalid,
    p11e.SessionClosed,
    p11e.UserNotLoggedIn,
    p11e.DeviceRemoved,
    p11e.TokenNotPresent,
    p11e.DeviceError,
    p11e.ObjectHandleInvalid,
    p11e.KeyHandleInvalid,
)
"""Errors after which the session (or the login) is considered lost."""



_MODULE_LOCKS: dict[str, threading.RLock] = {}
_MODULE_LOCKS_GUARD = threading.Lock()


def module_lock(module: str) -> threading.RLock:
    """The lock serialising every call into one PKCS#11 module in this process."""
    with _MODULE_LOCKS_GUARD:
        lock = _MODULE_LOCKS.get(module)
        if lock is None:
            lock = _MODULE_LOCKS[module] = threading.RLock()
        return lock


class _TokenLogin:
    """The process-wide login to one token (see module docstring)."""

    _registry: ClassVar[dict[tuple[str, str], _TokenLogin]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, module: str, token_label: str) -> None:
        self.module = module
        self.token_label = token_label
        self._lock = threading.Lock()
        self._session: pkcs11.Session | None = None
        self.logins = 0

    @classmethod
    def for_token(cls, module: str, token_label: str) -> _TokenLogin:
        with cls._registry_lock:
            key = (module, token_label)
            if key not in cls._registry:
                cls._registry[key] = cls(module, token_label)
            return cls._registry[key]

    def token(self) -> pkcs11.Token:
        try:
            return pkcs11.lib(self.module).get_token(token_label=self.token_label)
        except (p11e.NoSuchToken, p11e.MultipleTokensReturned) as e:
            raise KeyCustodyError(
                "keys.token_not_found",
                f"Không tìm thấy token PKCS#11 '{self.token_label}'.",
                f"PKCS#11 token '{self.token_label}' not found.",
                details={"token": self.token_label},
            ) from e
        except p11e.PKCS11Error as e:
            raise KeyCustodyError(
                "keys.hsm_unavailable", "Không kết nối được HSM (PKCS#11).",
                "The HSM (PKCS#11 module) is not available.",
                details={"module": self.module, "error": type(e).__name__},
            ) from e

    def ensure(self, user_pin: str) -> None:
        """Log in once (per process and token) and keep that session open."""
        with self._lock, module_lock(self.module):
            if self._session is not None:
                return
            token = self.token()
            try:
                self._session = token.open(rw=True, user_pin=user_pin)
            except p11e.UserAlreadyLoggedIn:
                # Another part of this process logged in without us: the login
                # already holds; keep a PIN-less session as our anchor.
                self._session = token.open(rw=True)
            except p11e.PinIncorrect as e:
                raise KeyCustodyError(
                    "keys.pin_incorrect", "Mã PIN của token HSM không đúng.",
                    "The HSM token's user PIN is incorrect.",
                    details={"token": self.token_label}) from e
            except p11e.PKCS11Error as e:
                raise KeyCustodyError(
                    "keys.hsm_unavailable", "Không đăng nhập được vào HSM (PKCS#11).",
                    "Could not log in to the HSM (PKCS#11).",
                    details={"token": self.token_label, "error": type(e).__name__}) from e
            self.logins += 1
            log.info("pkcs11 login to token %s (login #%d)", self.token_label, self.logins)

    def invalidate(self) -> None:
        """Forget the login (it was lost); the next :meth:`ensure` logs in again."""
        with self._lock:
            session, self._session = self._session, None
        if session is not None:
            try:
                with module_lock(self.module):
                    session.close()
            except p11e.PKCS11Error:
                pass


class PooledSession:
    """One worker session and the key handles found through it."""

    def __init__(self, session: pkcs11.Session) -> None:
        self.session = session
        self.handles: dict[tuple[str, int], Any] = {}

    def private_key(self, label: str) -> Any:
        key = (label, int(pkcs11.ObjectClass.PRIVATE_KEY))
        if key not in self.handles:
            found = list(self.session.get_objects({
                pkcs11.Attribute.CLASS: pkcs11.ObjectClass.PRIVATE_KEY,
                pkcs11.Attribute.LABEL: label,
            }))
            if len(found) != 1:
                from hsm.keystore import not_found

                raise not_found(label)
            self.handles[key] = found[0]
        return self.handles[key]


class SessionPool:
    """A bounded pool of worker sessions on one token (thread-safe)."""

    def __init__(self, module: str, token_label: str, user_pin: str, *, size: int = 4) -> None:
        self.module = module
        self.token_label = token_label
        self._pin = user_pin
        self.size = size
        self._login = _TokenLogin.for_token(module, token_label)
        self._cond = threading.Condition()
        self._idle: list[PooledSession] = []
        self._open = 0
        self.sessions_opened = 0
        """Worker sessions opened since the pool was created (reuse keeps this small)."""
        self.reopened = 0
        """Worker sessions dropped after a lost-session error."""

    @property
    def logins(self) -> int:
        """Logins to the token made by this process (shared by every pool on it)."""
        return self._login.logins

    def _acquire(self) -> PooledSession:
        with self._cond:
            while not self._idle and self._open >= self.size:
                self._cond.wait()
            if self._idle:
                return self._idle.pop()
            self._open += 1
        try:
            self._login.ensure(self._pin)
            with module_lock(self.module):
                session = self._login.token().open(rw=True)
        except BaseException:
            with self._cond:
                self._open -= 1
                self._cond.notify()
            raise
        with self._cond:
            self.sessions_opened += 1
        return PooledSession(session)

    def _release(self, pooled: PooledSession) -> None:
        with self._cond:
            self._idle.append(pooled)
            self._cond.notify()

    def _discard(self, pooled: PooledSession) -> None:
        with self._cond:
            self._open -= 1
            self.reopened += 1
            self._cond.notify()
        try:
            with module_lock(self.module):
                pooled.session.close()
        except p11e.PKCS11Error:
            pass

    @contextmanager
    def session(self) -> Iterator[PooledSession]:
        """Borrow a worker session (no retry: for multi-step operations); the module
        lock is held meanwhile."""
        pooled = self._acquire()
        try:
            with module_lock(self.module):
                yield pooled
        except LOST_SESSION_ERRORS:
            # A handle error can also mean the login is gone (private objects vanish
            # when logged out), so the login is re-established too: rare and cheap.
            self._discard(pooled)
            self._login.invalidate()
            raise
        except BaseException:
            self._release(pooled)
            raise
        else:
            self._release(pooled)

    def run(self, operation: Callable[[PooledSession], T], *, what: str) -> T:
        """Run ``operation`` on a pooled session; on a lost session reopen and retry once."""
        for attempt in (1, 2):
            try:
                with self.session() as pooled:
                    return operation(pooled)
            except LOST_SESSION_ERRORS as e:
                log.warning("pkcs11 %s: session lost (%s), attempt %d",
                            what, type(e).__name__, attempt)
                if attempt == 2:
                    raise KeyCustodyError(
                        "keys.hsm_unavailable",
                        f"HSM không thực hiện được thao tác ({what}): phiên làm việc bị mất.",
                        f"The HSM could not perform the operation ({what}): session lost.",
                        details={"token": self.token_label, "error": type(e).__name__},
                    ) from e
            except p11e.PKCS11Error as e:
                raise KeyCustodyError(
                    "keys.hsm_error", f"Lỗi HSM khi {what}.",
                    f"HSM error during {what}.",
                    details={"token": self.token_label, "error": type(e).__name__},
                ) from e
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Close idle worker sessions (the shared login stays for other pools)."""
        with self._cond:
            idle, self._idle = self._idle, []
            self._open -= len(idle)
        for pooled in idle:
            try:
                with module_lock(self.module):
                    pooled.session.close()
            except p11e.PKCS11Error:
                pass
