"""Audit trail: every workflow step, login and refused access goes to the
archive's hash-chained audit log (``archive.audit.AuditChain``).

Events carry ids (account, document, tenant) and never patient data. The
chain has a fixed vocabulary of actions; a refused attempt is recorded under
the action that was attempted with ``outcome: refused`` in its details.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

#: workflow / API action -> audit chain action
AUDIT_ACTION = {
    "login": "login",
    "create": "create",
    "view": "view",
    "print": "print",
    "export": "export",
    "sign": "sign",
    "seal": "seal",
    "verify": "verify",
    "archive": "archive",
    "administer": "retention_change",
}


class AuditTrail:
    def __init__(self, services: Any) -> None:
        self._services = services

    def record(
        self,
        action: str,
        *,
        actor: Any = None,
        document_id: str | None = None,
        outcome: str = "ok",
        details: dict[str, Any] | None = None,
        tenant: str | None = None,
    ) -> None:
        from archive.audit import AuditRecord

        actor_id = getattr(actor, "subject", None) or (actor if isinstance(actor, str) else "system")
        extra = dict(details or {})
        if getattr(actor, "role", None):
            extra["actor_role"] = actor.role
        if outcome != "ok":
            extra["outcome"] = outcome
        audit_action = AUDIT_ACTION.get(action, "view")
        if audit_action != action:
            extra["attempted"] = action
        self._services.audit.append(AuditRecord(
            actor_id=str(actor_id),
            action=audit_action,
            object_id=document_id,
            tenant_id=tenant or getattr(actor, "tenant", None) or self._services.settings.hospital_code,
            details=extra,
        ))
        log.info("audit", extra={"action": action, "document_id": document_id, "outcome": outcome})
