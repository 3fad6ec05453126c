"""API request and response bodies (separate from ORM rows and workflow values)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workflow.views import DocumentView


class SignatureRequestOut(BaseModel):
    step: int
    role: str
    field: str
    methods: list[str]
    certify: bool
    order_group: int = Field(description="Steps of the same group sign in any order; "
                                         "lower groups first")
    status: Literal["pending", "signed"]
    due_at: datetime | None = None
    signed_by: str | None = None
    signed_at: datetime | None = None
    method: str | None = None


class DocumentOut(BaseModel):
    id: str
    tenant: str
    form_code: str
    form_version: str
    status: str
    version: int
    sha256: str
    etag: str
    patient_ref: str | None = None
    encounter_id: str | None = None
    department: str | None = None
    policy_version: str | None = None
    retention_class: str | None = None
    created_at: datetime
    updated_at: datetime
    archive_key: str | None = None
    signature_requests: list[SignatureRequestOut]

    @classmethod
    def of(cls, v: DocumentView) -> DocumentOut:
        return cls(
            id=v.id, tenant=v.tenant, form_code=v.form_code, form_version=v.form_version,
            status=v.status, version=v.version, sha256=v.sha256, etag=v.etag,
            patient_ref=v.patient_ref, encounter_id=v.encounter_id, department=v.department,
            policy_version=v.policy_version, retention_class=v.retention_class,
            created_at=v.created_at, updated_at=v.updated_at, archive_key=v.archive_key,
            signature_requests=[SignatureRequestOut(
                step=r.step, role=r.role, field=r.field, methods=list(r.methods),
                certify=r.certify, order_group=r.order_group,
                status=r.status,  # type: ignore[arg-type]
                due_at=r.due_at, signed_by=r.signed_by, signed_at=r.signed_at, method=r.method)
                for r in v.signature_requests])


class CreateDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")
    form_code: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
    form_version: str | None = Field(default=None, max_length=32)
    data: dict[str, Any] | None = Field(
        default=None, description="The form's data (its JSON Schema); or give encounter_id")
    encounter_id: str | None = Field(default=None, max_length=64)
    patient_ref: str | None = Field(default=None, max_length=64)
    department: str | None = Field(default=None, max_length=64)
    care_team: list[str] = Field(default_factory=list, max_length=50,
                                 description="Practitioner ids of the treating team")
    events: list[str] = Field(default_factory=list, max_length=10,
                              description="Retention events (death, transplant, ...)")
    closed_year: int | None = Field(default=None, ge=1900, le=2200)


class SignBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pin: str | None = Field(default=None, max_length=64)
    totp: str | None = Field(default=None, max_length=16)
    role: str | None = Field(default=None, max_length=32,
                             description="The form role to sign (default: the next one yours)")
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$",
                               description="The document hash you saw (or send If-Match)")


class BatchItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    document_id: str = Field(min_length=1, max_length=64)
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")


class BatchSignBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[BatchItem] = Field(min_length=1, max_length=100)
    pin: str | None = Field(default=None, max_length=64)
    totp: str | None = Field(default=None, max_length=16)


class BatchResult(BaseModel):
    document_id: str
    ok: bool
    version: int | None = None
    status: str | None = None
    error: dict[str, Any] | None = None


class PatientConfirmationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["patient_pad", "fingerprint", "otp"]
    signer_name: str = Field(min_length=1, max_length=128)
    patient_ref: str = Field(min_length=1, max_length=64,
                             description="The patient's id as presented at the kiosk")
    handwritten_png_b64: str | None = Field(default=None, max_length=2_000_000)
    evidence_sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")
    representative: bool = False
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")


class VersionOut(BaseModel):
    version: int
    sha256: str
    reason: str
    created_at: datetime


class SignOut(BaseModel):
    document: DocumentOut
    role: str
    level: str
    archived_version: int | None = None
