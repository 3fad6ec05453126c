"""Operations: liveness, readiness, version, metrics, JWKS."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import ServicesDep

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: database, object store, HSM, TSA",
            responses={503: {"description": "A dependency is not ready"}})
def readyz(services: ServicesDep) -> JSONResponse:
    checks = services.readiness()
    ok = all(c["ok"] for c in checks.values())
    return JSONResponse({"status": "ready" if ok else "not_ready", "checks": checks},
                        status_code=200 if ok else 503)


@router.get("/version", summary="Version")
def version(request: Request) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        v = dist_version("hsba")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        v = "0.0.0"
    return {"name": "hsba", "version": v, "api": "v1"}


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry),
                    media_type=CONTENT_TYPE_LATEST)


@router.get("/.well-known/jwks.json", summary="Token verification keys (JWKS)")
def jwks(request: Request) -> dict[str, Any]:
    return request.app.state.tokens.ring.jwks()  # type: ignore[no-any-return]
