"""Binding a staff account to its app-confirmed provider subscriber id.

``PUT /api/v1/remote-signing/subscribers/{account_id}`` ``{"user_id"}`` (the access
policy's ``administer`` right, same hospital): the account's subscriber id at the
provider (CCCD, passport or tax id), kept in ``remote_subscribers``
(:class:`api.remote.pending_db.SubscriberBindings`). Every remote-signing request,
from the clinician or from a hospital system on the clinician's behalf, is sent only
under that clinician's bound subscriber id (:mod:`api.remote.signer`): otherwise a
request could reach another person's phone and the document would record the
clinician as its signer. The audit entry names the account, never the subscriber id.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import PrincipalDep, ServicesDep, authorize
from core.errors import NotFound
from workflow.access import RecordRef

router = APIRouter(prefix="/api/v1/remote-signing/subscribers", tags=["remote signing"])


class SubscriberBinding(BaseModel):
    user_id: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$",
                         description="The account's subscriber id at the provider")


def _bindings(services: Any) -> Any:
    from api.remote.pending_db import SubscriberBindings

    return SubscriberBindings(services.engine)


@router.put("/{account_id}", summary="Bind a staff account to its provider subscriber id",
            responses={401: {"description": "Not authenticated"},
                       403: {"description": "Refused by policy"},
                       404: {"description": "Unknown account"}})
async def bind_subscriber(account_id: Annotated[str, Path(max_length=64)],
                          body: SubscriberBinding, principal: PrincipalDep,
                          services: ServicesDep) -> dict[str, Any]:
    authorize(services, principal, "administer", RecordRef(tenant=principal.tenant))
    account = services.accounts.get(account_id)
    if account is None or account.tenant != principal.tenant or account.kind != "staff":
        raise NotFound("account.not_found", "Không tìm thấy tài khoản.", "Account not found.")
    await run_in_threadpool(_bindings(services).bind, account.tenant, account.id,
                            body.user_id, bound_by=principal.subject)
    services.trail.record("administer", actor=principal,
                          details={"remote_subscriber_bound": account.id})
    return {"account_id": account.id, "bound": True}
