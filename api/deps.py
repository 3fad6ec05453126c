"""Request dependencies: the services, the calling principal, authorisation."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi import Path as PathParam

from api.auth.tokens import Principal, TokenService
from core.errors import Unauthorized
from workflow.access import RecordRef
from workflow.services import Services


def get_services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


def get_tokens(request: Request) -> TokenService:
    return request.app.state.tokens  # type: ignore[no-any-return]


def current_principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("auth.missing_token", "Cần mã truy cập (Bearer).",
                           "A bearer access token is required.")
    principal = get_tokens(request).verify(token.strip())
    services = get_services(request)
    if services.accounts.get(principal.subject) is None:
        raise Unauthorized("auth.account_disabled", "Tài khoản không còn hiệu lực.",
                           "The account is no longer active.")
    request.state.principal = principal
    return principal


ServicesDep = Annotated[Services, Depends(get_services)]
PrincipalDep = Annotated[Principal, Depends(current_principal)]
DocId = Annotated[str, PathParam(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
"""A document id in a URL path."""


def authorize(services: Services, principal: Principal, action: str,
              record: RecordRef | None = None) -> None:
    """Ask the access policy; raises Forbidden (and audits) when it refuses,
    NotFound (and audits) for another hospital's record."""
    services.access.require(principal, action, record)
