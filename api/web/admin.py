"""Administration pages: practitioners' keys and certificates (with expiry
warnings), the policies in force, and the trust list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.web.common import blocking, page, services_of
from api.web.session import principal_of, render
from workflow.access import RecordRef

router = APIRouter(prefix="/web/admin", include_in_schema=False)
EXPIRY_WARNING = timedelta(days=30)


def _keys(services: Any) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    out = []
    for k in services.keystore.list_keys():
        not_after = k.not_after
        if not_after is not None and not_after.tzinfo is None:
            not_after = not_after.replace(tzinfo=UTC)
        if not_after is None:
            state = "warn"
        elif not_after <= now:
            state = "expired"
        elif not_after - now <= EXPIRY_WARNING:
            state = "expiring"
        else:
            state = "valid"
        out.append({"key_id": k.key_id, "subject": k.subject, "practitioner_id": k.practitioner_id,
                    "algorithm": k.algorithm, "not_after": not_after, "status": k.status,
                    "state": state})
    return sorted(out, key=lambda k: k["key_id"])


@router.get("")
@page()
async def admin_home(request: Request) -> Response:
    principal = principal_of(request)
    services = services_of(request)
    services.access.require(principal, "administer", RecordRef(tenant=principal.tenant))
    keys = await blocking(request, _keys, services)
    policies = services.policies
    return render(request, "admin.html", keys=keys, policy_version=policies.version,
                  policy_files=list(policies.files), anchors=list(policies.trust.anchors),
                  roots=[c.subject.human_friendly for c in services.trust_roots])
