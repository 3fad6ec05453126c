"""Records index tables (SQLAlchemy 2, typed ``Mapped[]``).

ORM rows never leave ``archive/``: the public functions return frozen values
(``archive.index``). Times are stored as UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC, returned timezone-aware (UTC) on every database."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the records index; use UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime, dict[str, Any]: JSON}


class Tenant(Base):
    """A hospital (cơ sở khám bệnh, chữa bệnh)."""

    __tablename__ = "tenants"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Document(Base):
    __tablename__ = "documents"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    patient_ref: Mapped[str | None] = mapped_column(String(64))
    patient_cccd: Mapped[str | None] = mapped_column(String(12))
    patient_bhyt: Mapped[str | None] = mapped_column(String(15))
    encounter_ref: Mapped[str | None] = mapped_column(String(64))
    form_code: Mapped[str] = mapped_column(String(64))
    form_version: Mapped[str] = mapped_column(String(16))
    department: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(24))
    retention_class: Mapped[str] = mapped_column(String(48))
    closed_year: Mapped[int | None] = mapped_column(Integer)
    retain_until: Mapped[date | None] = mapped_column(Date)
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    current_version: Mapped[int] = mapped_column(Integer, default=0)
    policy_version: Mapped[str | None] = mapped_column(String(64))
    key_year: Mapped[int] = mapped_column(Integer)
    key_month: Mapped[int] = mapped_column(Integer)
    last_timestamp_expiry: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    row_version: Mapped[int] = mapped_column(Integer, nullable=False)
    __mapper_args__ = {"version_id_col": row_version}  # noqa: RUF012
    __table_args__ = (
        Index("ix_documents_cccd", "tenant_id", "patient_cccd", "created_at", "id"),
        Index("ix_documents_bhyt", "tenant_id", "patient_bhyt", "created_at", "id"),
        Index("ix_documents_patient", "tenant_id", "patient_ref", "created_at", "id"),
        Index("ix_documents_encounter", "tenant_id", "encounter_ref", "created_at", "id"),
        Index("ix_documents_form", "tenant_id", "form_code", "created_at", "id"),
        Index("ix_documents_department", "tenant_id", "department", "created_at", "id"),
        Index("ix_documents_status", "tenant_id", "status", "created_at", "id"),
        Index("ix_documents_created", "tenant_id", "created_at", "id"),
        Index("ix_documents_retain_until", "retain_until"),
        Index("ix_documents_ts_expiry", "last_timestamp_expiry"),
    )


class DocumentVersion(Base):
    __tablename__ = "document_versions"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"))
    n: Mapped[int] = mapped_column(Integer)
    media: Mapped[str] = mapped_column(String(8), default="pdf")
    sha256: Mapped[str] = mapped_column(String(64))
    object_key: Mapped[str] = mapped_column(String(512), unique=True)
    version_id: Mapped[str | None] = mapped_column(String(1024))
    """The store's version id of the locked write (S3); reads ask for exactly it.
    NULL on a store without versions and on rows from before migration 0004."""
    size: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(64))
    last_timestamp_expiry: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("document_id", "n", name="uq_document_versions_doc_n"),)


class Signature(Base):
    __tablename__ = "signatures"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"))
    version_n: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(48))
    signer_subject: Mapped[str] = mapped_column(String(512))
    practitioner_id: Mapped[str | None] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(8))
    signed_at: Mapped[datetime]
    policy_version: Mapped[str | None] = mapped_column(String(64))
    __table_args__ = (
        Index("ix_signatures_practitioner", "practitioner_id", "signed_at"),
        Index("ix_signatures_subject", "signer_subject"),
        Index("ix_signatures_document", "document_id"),
    )


class DocumentSigner(Base):
    """Search index: one row per (signer value, document), signer = practitioner id or subject."""

    __tablename__ = "document_signers"
    tenant_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    signer: Mapped[str] = mapped_column(String(512), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(primary_key=True)
    """The document's ``created_at`` (so the search pages in the same order)."""
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), primary_key=True)


class SignatureRequest(Base):
    __tablename__ = "signature_requests"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    role: Mapped[str] = mapped_column(String(48))
    order: Mapped[int] = mapped_column(Integer)
    practitioner_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(24), default="pending")
    due_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LegalHold(Base):
    __tablename__ = "legal_holds"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    placed_by: Mapped[str] = mapped_column(String(64))
    placed_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_by: Mapped[str | None] = mapped_column(String(64))
    released_at: Mapped[datetime | None]


class DestructionRequest(Base):
    """Destruction of an expired record: requested by one person, approved by another."""

    __tablename__ = "destruction_requests"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved_by: Mapped[str | None] = mapped_column(String(64))
    approved_at: Mapped[datetime | None]
    executed_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="requested")


class AuditEvent(Base):
    __tablename__ = "audit_events"
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                     primary_key=True, autoincrement=False)
    prev_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    tenant_id: Mapped[str | None] = mapped_column(String(32))
    actor_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[str] = mapped_column(Text, default="{}")
    hash: Mapped[str] = mapped_column(String(64))
    __table_args__ = (Index("ix_audit_events_object", "object_id", "action", "at"),)


class AuditHead(Base):
    """One row: the last sequence number and hash; locked by every append."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    __tablename__ = "audit_checkpoints"
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                     primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    object_key: Mapped[str] = mapped_column(String(512))
    version_id: Mapped[str | None] = mapped_column(String(1024))
    timestamp_token: Mapped[bytes | None] = mapped_column(LargeBinary)


class PendingIngest(Base):
    """Intent recorded before the object is put (outbox), cleared when committed."""

    __tablename__ = "pending_ingests"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    document_id: Mapped[str] = mapped_column(String(64))
    n: Mapped[int] = mapped_column(Integer)
    tenant_id: Mapped[str] = mapped_column(String(32))
    object_key: Mapped[str] = mapped_column(String(512))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), default="intent")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("document_id", "n", name="uq_pending_ingests_doc_n"),)
