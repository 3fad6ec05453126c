"""Logins: staff (password + TOTP), hospital systems (OAuth2 client
credentials), kiosks (device secret bound to a department)."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel, Field

from api.auth.tokens import Principal
from api.deps import PrincipalDep, ServicesDep, authorize, get_tokens
from core.errors import InvalidInput, Unauthorized
from workflow.access import RecordRef
from workflow.accounts import Account

router = APIRouter(prefix="/api/v1", tags=["auth"])


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=256)
    totp: str = Field(default="", max_length=16)


class DeviceLoginRequest(BaseModel):
    device_id: str = Field(min_length=1, max_length=128)
    device_secret: str = Field(min_length=1, max_length=256)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    role: str
    tenant: str


class WhoAmI(BaseModel):
    subject: str
    tenant: str
    role: str
    kind: str
    username: str
    practitioner_id: str | None = None
    department: str | None = None


def _principal(account: Account) -> Principal:
    return Principal(
        subject=account.id, tenant=account.tenant, role=account.role, kind=account.kind,
        username=account.username, practitioner_id=account.practitioner_id,
        department=account.department,
    )


def _issue(request: Request, services: ServicesDep, account: Account) -> TokenResponse:
    principal = _principal(account)
    token, ttl = get_tokens(request).issue(principal)
    services.trail.record("login", actor=principal, details={"kind": account.kind})
    return TokenResponse(access_token=token, expires_in=ttl, role=account.role,
                         tenant=account.tenant)


@router.post("/auth/login", response_model=TokenResponse, summary="Staff login (password + TOTP)",
             responses={401: {"description": "Bad credentials"}})
def login(body: LoginRequest, request: Request, services: ServicesDep) -> TokenResponse:
    account = services.accounts.authenticate("staff", body.username, body.password, body.totp)
    return _issue(request, services, account)


@router.post("/auth/device", response_model=TokenResponse, summary="Kiosk device login",
             responses={401: {"description": "Bad credentials"}})
def device_login(body: DeviceLoginRequest, request: Request,
                 services: ServicesDep) -> TokenResponse:
    account = services.accounts.authenticate("device", body.device_id, body.device_secret)
    return _issue(request, services, account)


@router.post("/oauth/token", response_model=TokenResponse,
             summary="OAuth2 client credentials (hospital systems)",
             responses={401: {"description": "Bad client credentials"}})
def oauth_token(
    request: Request,
    services: ServicesDep,
    grant_type: Annotated[str, Form(max_length=64)],
    client_id: Annotated[str | None, Form(max_length=128)] = None,
    client_secret: Annotated[str | None, Form(max_length=256)] = None,
) -> TokenResponse:
    if grant_type != "client_credentials":
        raise InvalidInput("oauth.unsupported_grant_type", "Chỉ hỗ trợ client_credentials.",
                           "Only the client_credentials grant is supported.")
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            client_id, _, client_secret = (
                base64.b64decode(header[6:].strip()).decode().partition(":"))
        except (ValueError, UnicodeDecodeError) as e:
            raise Unauthorized("auth.bad_credentials", "Sai thông tin đăng nhập.",
                               "Invalid credentials.") from e
    if not client_id or not client_secret:
        raise Unauthorized("auth.bad_credentials", "Sai thông tin đăng nhập.",
                           "Invalid credentials.")
    account = services.accounts.authenticate("client", client_id, client_secret)
    return _issue(request, services, account)


@router.get("/auth/me", response_model=WhoAmI, summary="The calling principal")
def me(principal: PrincipalDep) -> WhoAmI:
    return WhoAmI(subject=principal.subject, tenant=principal.tenant, role=principal.role,
                  kind=principal.kind, username=principal.username,
                  practitioner_id=principal.practitioner_id, department=principal.department)


@router.post("/admin/token-keys/rotate", summary="Rotate the token-signing key (admin)")
def rotate_keys(request: Request, principal: PrincipalDep, services: ServicesDep) -> dict[str, str]:
    authorize(services, principal, "administer", RecordRef(tenant=principal.tenant))
    key = get_tokens(request).ring.rotate()
    services.trail.record("administer", actor=principal, details={"kid": key.kid})
    return {"kid": key.kid}
