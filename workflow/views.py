"""Values the workflow hands to its callers (API, CLI, bench): frozen, no ORM rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class SignatureRequestView:
    """One signature a document needs, from its form's signing policy."""

    step: int
    role: str
    field: str
    methods: tuple[str, ...]
    certify: bool
    order_group: int
    """Steps with the same group may sign in any order; lower groups first."""
    status: str
    """``pending`` or ``signed``."""
    due_at: datetime | None = None
    signed_by: str | None = None
    signed_at: datetime | None = None
    method: str | None = None


@dataclass(frozen=True)
class DocumentView:
    id: str
    tenant: str
    form_code: str
    form_version: str
    status: str
    """``awaiting_signatures``, ``completed`` (B-LTA reached) or ``archived``."""
    version: int
    sha256: str
    patient_ref: str | None
    encounter_id: str | None
    department: str | None
    policy_version: str | None
    retention_class: str | None
    created_at: datetime
    updated_at: datetime
    archive_key: str | None = None
    care_team: tuple[str, ...] = ()
    signature_requests: tuple[SignatureRequestView, ...] = field(default_factory=tuple)

    @property
    def etag(self) -> str:
        return f'"{self.id}.v{self.version}.{self.sha256[:16]}"'

    @property
    def pending_roles(self) -> tuple[str, ...]:
        return tuple(r.role for r in self.signature_requests if r.status == "pending")


@dataclass(frozen=True)
class SignOutcome:
    document: DocumentView
    role: str
    level: str
    archived_version: int | None = None
    evidence: dict[str, Any] | None = None
