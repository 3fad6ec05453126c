"""Webhook subscriptions, the delivery log and redelivery."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import PrincipalDep, ServicesDep, authorize
from api.routes.documents import in_pool
from workflow.access import RecordRef

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])

EventName = Literal["document.created", "signature.completed", "document.completed",
                    "document.archived"]
Id = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
_ERR: dict[int | str, dict[str, Any]] = {401: {"description": "Not authenticated"},
                                         403: {"description": "Refused by policy"},
                                         404: {"description": "Not found"},
                                         422: {"description": "Invalid input"}}


class SubscribeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=8, max_length=2000, pattern=r"^https?://")
    events: list[EventName] = Field(min_length=1, max_length=4)
    signing: Literal["hmac", "jws"] = "hmac"


class SubscriptionOut(BaseModel):
    id: str
    url: str
    events: list[str]
    signing: str
    created_at: datetime
    secret: str | None = Field(default=None, description="HMAC secret, shown once")


class DeliveryOut(BaseModel):
    id: str
    subscription_id: str
    event: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status: int | None = None
    last_error: str | None = None
    created_at: datetime
    delivered_at: datetime | None = None


def _admin(services: Any, principal: Any) -> None:
    authorize(services, principal, "administer", RecordRef(tenant=principal.tenant))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SubscriptionOut,
             responses=_ERR, summary="Subscribe a hospital system to events")
async def subscribe(body: SubscribeBody, principal: PrincipalDep,
                    services: ServicesDep) -> SubscriptionOut:
    _admin(services, principal)
    s = await in_pool(services, services.webhooks.subscribe, principal.tenant, body.url,
                      list(body.events), body.signing)
    return SubscriptionOut(id=s.id, url=s.url, events=list(s.events), signing=s.signing,
                           created_at=s.created_at, secret=s.secret)


@router.get("", response_model=list[SubscriptionOut], responses=_ERR,
            summary="The hospital's subscriptions")
async def list_subscriptions(principal: PrincipalDep,
                             services: ServicesDep) -> list[SubscriptionOut]:
    _admin(services, principal)
    subs = await in_pool(services, services.webhooks.subscriptions, principal.tenant)
    return [SubscriptionOut(id=s.id, url=s.url, events=list(s.events), signing=s.signing,
                            created_at=s.created_at) for s in subs]


@router.delete("/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT,
               response_class=Response, responses=_ERR, summary="Unsubscribe")
async def unsubscribe(subscription_id: Id, principal: PrincipalDep,
                      services: ServicesDep) -> Response:
    _admin(services, principal)
    await in_pool(services, services.webhooks.unsubscribe, principal.tenant, subscription_id)
    return Response(status_code=204)


@router.get("/deliveries", response_model=list[DeliveryOut], responses=_ERR,
            summary="The delivery log (newest first)")
async def deliveries(principal: PrincipalDep, services: ServicesDep,
                     subscription_id: Annotated[str | None, Query(max_length=64)] = None,
                     limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[DeliveryOut]:
    _admin(services, principal)
    rows = await in_pool(services, services.webhooks.deliveries, principal.tenant,
                         subscription_id, limit)
    return [DeliveryOut(**r.__dict__) for r in rows]


@router.post("/deliveries/{delivery_id}/redeliver", response_model=DeliveryOut,
             responses=_ERR, summary="Deliver again")
async def redeliver(delivery_id: Id, principal: PrincipalDep,
                    services: ServicesDep) -> DeliveryOut:
    _admin(services, principal)
    d = await in_pool(services, services.webhooks.redeliver, principal.tenant, delivery_id)
    return DeliveryOut(**d.__dict__)
