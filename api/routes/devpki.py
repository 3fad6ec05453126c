"""The development PKI's CRLs, OCSP responder and CA certificates, served under
``/dev-pki/`` so that its certificates' URLs resolve (``HSBA_PKI=dev`` only)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request, Response

from api.deps import ServicesDep
from core.errors import NotFound

router = APIRouter(prefix="/dev-pki", tags=["development PKI"], include_in_schema=False)
CaName = Annotated[Literal["issuing", "root"], Path()]


def _pki(services: ServicesDep):  # type: ignore[no-untyped-def]
    if services.pki is None:
        raise NotFound("devpki.off", "Không dùng PKI phát triển.", "No development PKI.")
    return services.pki


@router.get("/crl/{name}.crl")
def crl(name: CaName, services: ServicesDep) -> Response:
    return Response(_pki(services).crl_der(name), media_type="application/pkix-crl")


@router.get("/certs/{name}.crt")
def ca_cert(name: CaName, services: ServicesDep) -> Response:
    return Response(_pki(services).ca_cert_der(name), media_type="application/pkix-cert")


@router.post("/ocsp")
async def ocsp(request: Request, services: ServicesDep) -> Response:
    body = await request.body()
    return Response(_pki(services).ocsp_response(body[:65536]),
                    media_type="application/ocsp-response")
