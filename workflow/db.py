"""Workflow's own tables: accounts, documents in progress, signature requests,
idempotency records and webhooks.

The records index, audit chain and EMR tables belong to ``archive/`` and
``emr/``; these tables hold what only the workflow needs while a document is
being signed, and the API's credentials. ORM rows never leave ``workflow/``:
callers get frozen dataclasses.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Engine

metadata = MetaData()

accounts = Table(
    "wf_accounts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("tenant", String(32), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # staff | client | device
    Column("username", String(128), nullable=False),
    Column("role", String(32), nullable=False),
    Column("secret_hash", String(256), nullable=False),
    Column("totp_secret", String(64)),
    Column("signing_pin_hash", String(256)),
    Column("practitioner_id", String(64)),
    Column("key_id", String(128)),
    Column("department", String(64)),
    Column("display_name", String(256)),
    Column("active", Integer, nullable=False, default=1),
    UniqueConstraint("kind", "username", name="uq_wf_accounts_kind_username"),
)

tenants = Table(
    "wf_tenants",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(256), nullable=False),
    Column("seal_key_id", String(128), nullable=False),  # the organisation seal key
)

documents = Table(
    "wf_documents",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("tenant", String(32), nullable=False, index=True),
    Column("form_code", String(64), nullable=False),
    Column("form_version", String(32), nullable=False),
    Column("patient_ref", String(64), index=True),
    Column("encounter_id", String(64)),
    Column("department", String(64)),
    Column("status", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("policy_version", String(64)),
    Column("retention_class", String(64)),
    Column("closed_year", Integer),
    Column("created_by", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("archive_key", String(512)),
    Column("care_team", JSON, nullable=False, default=list),
    Column("encounter_start", DateTime(timezone=True)),
    Column("encounter_end", DateTime(timezone=True)),
    Column("patient_cccd", String(32)),
    Column("patient_bhyt", String(32)),
)

document_versions = Table(
    "wf_document_versions",
    metadata,
    Column("document_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("pdf", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

signature_requests = Table(
    "wf_signature_requests",
    metadata,
    Column("document_id", String(64), primary_key=True),
    Column("step", Integer, primary_key=True),
    Column("role", String(32), nullable=False),
    Column("field", String(64), nullable=False),
    Column("methods", JSON, nullable=False),
    Column("certify", Integer, nullable=False, default=0),
    Column("order_group", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # pending | signed
    Column("due_at", DateTime(timezone=True)),
    Column("signed_by", String(64)),
    Column("signed_at", DateTime(timezone=True)),
    Column("method", String(32)),
    Column("evidence", JSON),
)

idempotency = Table(
    "wf_idempotency",
    metadata,
    Column("scope", String(256), primary_key=True),  # tenant|subject|method|path|key
    Column("request_sha256", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("headers", JSON, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

webhook_subscriptions = Table(
    "wf_webhook_subscriptions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("tenant", String(32), nullable=False, index=True),
    Column("url", Text, nullable=False),
    Column("events", JSON, nullable=False),
    Column("signing", String(8), nullable=False),  # jws | hmac
    Column("secret", String(128)),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

webhook_deliveries = Table(
    "wf_webhook_deliveries",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("subscription_id", String(64), nullable=False, index=True),
    Column("tenant", String(32), nullable=False),
    Column("event", String(64), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_status", Integer),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True)),
)


# --- batch signing jobs started from the clinician's page (workflow/batch_jobs.py) --------
batch_jobs = Table(
    "wf_batch_jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("tenant", String(32), nullable=False),
    Column("owner", String(64), nullable=False),  # the account that confirmed the batch
    Column("state", String(16), nullable=False),  # queued | running | finished
    Column("total", Integer, nullable=False),
    Column("runner", String(128)),  # who runs it now (worker / API process), a lease
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("heartbeat_at", DateTime(timezone=True)),  # the runner's last sign of life
    Column("finished_at", DateTime(timezone=True), index=True),
    Index("ix_wf_batch_jobs_owner", "tenant", "owner", "state"),
)

batch_items = Table(
    "wf_batch_items",
    metadata,
    Column("job_id", String(32), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("document_id", String(64), nullable=False),
    Column("form_code", String(64), nullable=False),
    Column("sha256", String(64), nullable=False),  # the hash the clinician saw and confirmed
    Column("state", String(16), nullable=False),  # waiting | signing | ok | failed
    Column("status", String(32)),  # the document's status after signing
    Column("error_code", String(64)),
    Column("error_vi", Text),
    Column("error_en", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


def create_tables(engine: Engine) -> None:
    metadata.create_all(engine)
