"""Wiring: one :class:`Services` per process, built from the settings.

It opens the records database, the object store, the keystore, the PKI
(development PKI or the configured TSAs and trust anchors) and the policies,
each on first use, so that a missing or unreachable part is reported by
``/readyz`` instead of stopping the process. Nothing here is built at import
time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from core.settings import Settings, get_settings
from workflow.accounts import AccountStore
from workflow.db import create_tables
from workflow.idempotency import IdempotencyStore

log = logging.getLogger(__name__)

SIGNING_THREADS = 16
"""Workflow calls (render, sign, archive) the API runs at once (``Services.executor``)."""


class Services:
    """The stages the workflow drives, opened lazily and closed together."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.accounts = AccountStore(engine)
        self.idempotency = IdempotencyStore(engine)
        self._lock = threading.RLock()
        self._preparsed: set[int] = set()
        self.executor = ThreadPoolExecutor(
            max_workers=SIGNING_THREADS,  # I/O (fsync, TSA, HSM) overlaps; CPU is GIL-bound
            thread_name_prefix="hsba-sign",
        )

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Services:
        settings = settings or get_settings()
        settings.check_production()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        url = settings.effective_database_url
        from archive.db import make_engine, upgrade

        upgrade(url)
        # one connection per signing thread plus the API's request threads, so a burst
        # of signatures never waits for a pooled connection
        pool = {} if url in ("sqlite://", "sqlite:///:memory:") else {
            "pool_size": SIGNING_THREADS + 8, "max_overflow": 16}
        engine = make_engine(url, **pool)
        create_tables(engine)
        services = cls(settings, engine)
        for warning in settings.development_adapters():
            log.warning("development adapter in use: %s", warning)
        return services

    # --- stages, opened on first use -----------------------------------------
    @cached_property
    def policies(self) -> Any:
        from policies import load_policies

        return load_policies(self.settings.policies_dir)

    @cached_property
    def store(self) -> Any:
        from archive import open_store

        return open_store(self.settings)

    @cached_property
    def index(self) -> Any:
        from archive.index import RecordsIndex

        return RecordsIndex(self.engine)

    @cached_property
    def audit(self) -> Any:
        from archive.audit import AuditChain

        return AuditChain(self.engine)

    @cached_property
    def keystore(self) -> Any:
        try:
            from hsm import open_keystore
        except ImportError:  # adapter until hsm.open_keystore lands
            return _PreparsedSigners(_open_keystore_fallback(self.settings))
        return _PreparsedSigners(open_keystore(self.settings))

    @cached_property
    def pki(self) -> Any:
        """The development PKI (``HSBA_PKI=dev``), else None."""
        if self.settings.pki != "dev":
            return None
        from hsm.dev_pki import DevPki

        return DevPki.load_or_create(self.settings.data_dir, base_url=self.settings.base_url)

    @cached_property
    def archiver(self) -> Any:
        from archive.ingest import Archiver

        return Archiver(self.index, self.store, self.audit)

    @cached_property
    def webhooks(self) -> Any:
        from workflow.webhooks import WebhookHub

        return WebhookHub(self)

    @cached_property
    def documents(self) -> Any:
        from workflow.lifecycle import DocumentWorkflow

        return DocumentWorkflow(self)

    # --- PKI: time-stamping, revocation, trust --------------------------------
    def timestampers(self) -> list[Any]:
        """The TSAs to use, in order: configured URLs, else the development TSA."""
        if self.settings.tsa_urls:
            from signer.timestamps import http_timestampers

            return list(http_timestampers(self.settings.tsa_urls, self.settings.tsa_timeout_s))
        if self.pki is not None:
            tsa = self.pki.timestamper()
            if id(tsa) not in self._preparsed:
                preparse_asn1(getattr(tsa, "tsa_cert", None),
                              *(getattr(tsa, "certs_to_embed", None) or ()))
                self._preparsed.add(id(tsa))
            return [tsa]
        return []

    @cached_property
    def _online_revocation(self) -> Any:
        from signer.revocation import OnlineRevocationSource

        return OnlineRevocationSource(self.trust_roots, timeout_s=self.settings.tsa_timeout_s)

    def revocation(self) -> Any:
        """A ``signer.revocation.RevocationSource`` (one validation context per signature)."""
        if self.pki is not None:
            return self.pki.revocation_source()
        return self._online_revocation

    @cached_property
    def trust_roots(self) -> list[Any]:
        """Trust anchors for signing checks and verification (asn1crypto certificates)."""
        from asn1crypto import pem as asn1_pem
        from asn1crypto import x509 as asn1_x509

        roots: list[Any] = list(self.pki.trust_roots) if self.pki is not None else []
        for path in self.settings.trust_pems:
            data = path.read_bytes()
            if asn1_pem.detect(data):
                roots.extend(asn1_x509.Certificate.load(der)
                             for _, _, der in asn1_pem.unarmor(data, multiple=True))
            else:
                roots.append(asn1_x509.Certificate.load(data))
        preparse_asn1(*roots)  # shared by every signing thread
        return roots

    @cached_property
    def access(self) -> Any:
        from workflow.access import AccessGate

        return AccessGate(self)

    @cached_property
    def trail(self) -> Any:
        from workflow.trail import AuditTrail

        return AuditTrail(self)

    # --- readiness -------------------------------------------------------------
    def readiness(self) -> dict[str, dict[str, Any]]:
        """Each dependency: ``{"ok": bool, "detail": str}``; never raises."""
        checks: dict[str, Callable[[], object]] = {
            "database": lambda: self._ping_db(),
            "object_store": lambda: next(iter(self.store.list(f"{self.settings.hospital_code}/__ready__")), None),
            "hsm": lambda: self.keystore.list_keys(),
            "tsa": lambda: self._ping_tsa(),
        }
        out: dict[str, dict[str, Any]] = {}
        for name, check in checks.items():
            try:
                check()
                out[name] = {"ok": True, "detail": "ok"}
            except Exception as e:  # noqa: BLE001 - readiness reports every failure
                out[name] = {"ok": False, "detail": type(e).__name__}
        return out

    def _ping_db(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def _ping_tsa(self) -> None:
        if self.settings.tsa_urls:
            import httpx

            # A TSA answers POST only; any HTTP answer means it is reachable.
            httpx.get(self.settings.tsa_urls[0], timeout=self.settings.tsa_timeout_s)
        elif self.pki is None:
            raise RuntimeError("no TSA configured")

    @cached_property
    def scheduler(self) -> Any:
        from workflow.scheduler import Scheduler

        return Scheduler()

    @cached_property
    def queue(self) -> Any:
        """The durable job queue (procrastinate) on PostgreSQL; None on the embedded
        default, whose jobs run on the in-process :attr:`scheduler`."""
        if self.engine.dialect.name != "postgresql":
            return None
        from workflow.scheduler import DurableQueue

        return DurableQueue(self.engine)

    def start_background(self) -> None:
        """Start the in-process jobs (webhook delivery) on the embedded default. On
        PostgreSQL the jobs go to the durable queue, run by ``hsba worker``."""
        if self.queue is not None:
            log.info("background jobs run in hsba worker (PostgreSQL queue)")
            return
        from workflow.webhooks import register_jobs

        register_jobs(self)
        self.scheduler.start()

    def close(self) -> None:
        sched = self.__dict__.get("scheduler")
        if sched is not None:
            sched.stop()
        queue = self.__dict__.get("queue")
        if queue is not None:
            queue.close()
        self.executor.shutdown(wait=True, cancel_futures=False)
        ks = self.__dict__.get("keystore")
        if ks is not None and hasattr(ks, "close"):
            try:
                ks.close()
            except Exception:
                log.warning("keystore close failed", exc_info=True)
        self.engine.dispose()


def preparse_asn1(*objects: Any) -> None:
    """Parse asn1crypto values completely before threads share them.

    asn1crypto parses lazily and is not thread-safe: two threads touching a fresh
    certificate at once can see it half-parsed (KeyError/IndexError, measured: 105 of
    300 runs with 16 threads). Signing threads share the signer's certificates, the
    TSA's and the trust anchors, so these are parsed once, up front."""
    for obj in objects:
        if obj is None:
            continue
        try:
            obj.native  # noqa: B018 - walks and parses every child
            if hasattr(obj, "critical_extensions"):  # certificates: extension caches
                obj.critical_extensions  # noqa: B018
                obj.issuer_serial  # noqa: B018
                obj.sha256  # noqa: B018
        except Exception:  # a bad value fails later, where it is used
            log.debug("could not pre-parse an ASN.1 value", exc_info=True)


class _PreparsedSigners:
    """The keystore, handing out pyHanko signers whose certificates are fully parsed
    (see :func:`preparse_asn1`); everything else is the keystore's own. Code that
    needs the key store's concrete type uses :attr:`raw_keystore`."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._done: set[int] = set()
        self._lock = threading.Lock()

    @property
    def raw_keystore(self) -> Any:
        """The key store itself (``hsm.pkcs11.Pkcs11Keystore``, ``hsm.software.
        DevSoftwareKeystore``…), e.g. for ``hsm.prehashed.DigestSigner``, which signs
        pre-computed hashes by the store's type. Its signers are not pre-parsed: share
        them between threads only through :meth:`signer_for`."""
        return self._inner

    def signer_for(self, key_id: str, *, pss: bool = False) -> Any:
        signer = self._inner.signer_for(key_id, pss=pss)
        with self._lock:
            if id(signer) not in self._done:
                registry = getattr(signer, "cert_registry", None)
                preparse_asn1(getattr(signer, "signing_cert", None),
                              *(list(registry) if registry is not None else ()))
                self._done.add(id(signer))
        return signer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _open_keystore_fallback(settings: Settings) -> Any:
    if settings.keystore == "pkcs11":
        from hsm.pkcs11 import Pkcs11Keystore

        return Pkcs11Keystore(settings.pkcs11_module, settings.pkcs11_token_label,
                              settings.pkcs11_user_pin.get_secret_value())
    from hsm.software import DevSoftwareKeystore

    return DevSoftwareKeystore(settings.data_dir)
