"""The FastAPI application factory.

``create_app(settings)`` builds nothing heavy itself: the lifespan opens the
workflow :class:`~workflow.services.Services` (database, store, keystore,
PKI, policies) and the token-signing key ring, and closes them on shutdown. With
``HSBA_REMOTE_PROVIDER`` set it installs app-confirmed remote signing
(:func:`api.remote.wiring.install_from_settings`: request routes, provider webhook,
polling in-process on the embedded default or by ``hsba worker`` on PostgreSQL).

Start-up loads the policies eagerly: a broken policy file stops the service
with a message naming the file, the line and the problem (in Vietnamese and
English) instead of failing the first request. The verification sandbox's
worker process is started in the background, so the first upload does not pay
for it and start-up does not wait for it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from api import problems
from api.auth.keys import TokenKeyRing
from api.auth.tokens import TokenService
from api.idempotency import IdempotencyMiddleware
from api.metrics import ApiMetrics
from api.middleware import ApiLimits, ApiMiddleware
from core.errors import HsbaError
from core.settings import Settings, get_settings

log = logging.getLogger("hsba.api")

API_DESCRIPTION = (
    "hsba: ký số và lưu trữ hồ sơ bệnh án điện tử. Signing API for hospital systems: "
    "documents, signature requests, signing, verification, archive, audit, webhooks, FHIR R4."
)


def create_app(
    settings: Settings | None = None,
    *,
    services: Any = None,
    limits: ApiLimits | None = None,
) -> FastAPI:
    """Build the app. ``services`` may be given (tests, bench); else the
    lifespan opens one from ``settings`` and closes it on shutdown."""
    settings = settings or get_settings()
    settings.check_production()
    limits = limits or ApiLimits(max_upload_bytes=settings.max_upload_mb * 1024 * 1024)
    metrics = ApiMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from workflow.services import Services

        owned = services is None
        app.state.services = services if services is not None else Services.from_settings(settings)
        app.state.services.metrics = metrics
        load_policies_or_stop(app.state.services)
        warm_up_verification()
        warm_up_rendering()
        ring = TokenKeyRing(settings.data_dir / "api-keys")
        app.state.tokens = TokenService(ring, issuer=settings.jwt_issuer,
                                        audience=settings.jwt_audience)
        if settings.remote_provider != "none":  # app-confirmed remote signing (issue 6)
            from api.remote.wiring import install_from_settings

            install_from_settings(app, app.state.services)
        scheduler = getattr(app.state.services, "start_background", None)
        if owned and scheduler is not None:
            scheduler()
        try:
            yield
        finally:
            if owned:
                app.state.services.close()
            _stop_verification_workers()

    app = FastAPI(
        title="hsba",
        version="0.1.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    problems.install(app)

    from api.routes import auth, health

    app.include_router(health.router)
    app.include_router(auth.router)
    for name in ("documents", "verify", "records", "webhooks", "fhir", "devpki",
                 "provider_callbacks"):
        module = _optional_router(name)
        if module is not None:
            app.include_router(module.router)
    from api.csc import router as csc_router  # CSC API v1/v2 (issue 6)
    from api.remote.requests import router as remote_requests_router

    app.include_router(csc_router)
    app.include_router(remote_requests_router)  # 404 until a provider is configured
    app.include_router(__import__("api.web", fromlist=["router"]).router)  # web pages (issue 9)

    app.add_middleware(IdempotencyMiddleware,
                       store_getter=lambda: app.state.services.idempotency,
                       tokens_getter=lambda: app.state.tokens)
    app.add_middleware(ApiMiddleware, limits=limits, metrics=metrics)
    return app


def policy_diagnostics(error: HsbaError) -> str:
    """Both languages, then one line a problem naming its file and line."""
    lines = [error.message_vi, error.message_en]
    for item in error.details if isinstance(error.details, list) else ():
        if isinstance(item, dict):
            where = ":".join(str(item[k]) for k in ("file", "line") if item.get(k) is not None)
            path = f" {item['path']}" if item.get("path") else ""
            lines.append(f"  - {where}{path}: {item.get('message_vi', '')} / "
                         f"{item.get('message_en', '')}")
        else:
            lines.append(f"  - {item}")
    return "\n".join(lines)


def load_policies_or_stop(services: Any) -> None:
    """Load the policies in force now; a broken file stops start-up (logged in vi and en)."""
    try:
        policies = services.policies
    except HsbaError as e:
        log.error("policies refused, the service does not start:\n%s", policy_diagnostics(e),
                  extra={"code": e.code})
        raise
    log.info("policies loaded", extra={"policy_version": policies.version})


def warm_up_verification() -> None:
    """Start the verification sandbox's worker on a daemon thread (never blocks start-up)."""

    def run() -> None:
        try:
            from signer.verify.sandbox import warm_up

            warm_up()
        except Exception:  # the first verification starts a worker instead
            log.warning("verification sandbox warm-up failed", exc_info=True)

    threading.Thread(target=run, name="hsba-verify-warm-up", daemon=True).start()


def warm_up_rendering() -> None:
    """Fill the forms' layout cache (``templates.render.warm_layout_cache``) on a daemon
    thread, so no clinician's first render of a form pays for it (never blocks start-up;
    renders wait at most for the one form being laid out), then freeze the warmed-up
    heap (``core.heap.settle_after_warm_up``)."""

    def run() -> None:
        try:
            from templates.render import warm_layout_cache

            warm_layout_cache()
        except Exception:  # each form then fills its cache on its first render
            log.warning("layout cache warm-up failed", exc_info=True)
        from core.heap import settle_after_warm_up

        settle_after_warm_up()  # frozen; young garbage collected during TSA round trips

    threading.Thread(target=run, name="hsba-render-warm-up", daemon=True).start()


def _stop_verification_workers() -> None:
    try:
        from signer.verify.sandbox import shutdown
    except ImportError:
        return
    shutdown()


def _optional_router(name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(f"api.routes.{name}")
    except ModuleNotFoundError as e:
        if e.name == f"api.routes.{name}":
            return None
        raise
