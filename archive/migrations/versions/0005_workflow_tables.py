"""workflow tables under Alembic

Revision ID: 0005_workflow_tables
Revises: 0004_object_version_ids
Create Date: 2026-11-27 22:05:00

The ``wf_*`` tables exactly as ``workflow/db.py`` declares them (rendered by
Alembic autogenerate from that metadata; ``archive/`` does not import
``workflow/``). Databases where ``create_all`` made them before this revision
keep them: a table already present is left as it is.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005_workflow_tables'
down_revision = '0004_object_version_ids'
branch_labels = None
depends_on = None

TABLES = (
    'wf_accounts',
    'wf_document_versions',
    'wf_documents',
    'wf_idempotency',
    'wf_signature_requests',
    'wf_tenants',
    'wf_webhook_deliveries',
    'wf_webhook_subscriptions',
)


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if 'wf_accounts' not in existing:
        op.create_table('wf_accounts',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('tenant', sa.String(length=32), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('username', sa.String(length=128), nullable=False),
        sa.Column('role', sa.String(length=32), nullable=False),
        sa.Column('secret_hash', sa.String(length=256), nullable=False),
        sa.Column('totp_secret', sa.String(length=64), nullable=True),
        sa.Column('signing_pin_hash', sa.String(length=256), nullable=True),
        sa.Column('practitioner_id', sa.String(length=64), nullable=True),
        sa.Column('key_id', sa.String(length=128), nullable=True),
        sa.Column('department', sa.String(length=64), nullable=True),
        sa.Column('display_name', sa.String(length=256), nullable=True),
        sa.Column('active', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('kind', 'username', name='uq_wf_accounts_kind_username')
        )
        op.create_index(op.f('ix_wf_accounts_tenant'), 'wf_accounts', ['tenant'], unique=False)
    if 'wf_document_versions' not in existing:
        op.create_table('wf_document_versions',
        sa.Column('document_id', sa.String(length=64), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('reason', sa.String(length=64), nullable=False),
        sa.Column('pdf', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('document_id', 'version')
        )
    if 'wf_documents' not in existing:
        op.create_table('wf_documents',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('tenant', sa.String(length=32), nullable=False),
        sa.Column('form_code', sa.String(length=64), nullable=False),
        sa.Column('form_version', sa.String(length=32), nullable=False),
        sa.Column('patient_ref', sa.String(length=64), nullable=True),
        sa.Column('encounter_id', sa.String(length=64), nullable=True),
        sa.Column('department', sa.String(length=64), nullable=True),
        sa.Column('status', sa.String(length=32), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('policy_version', sa.String(length=64), nullable=True),
        sa.Column('retention_class', sa.String(length=64), nullable=True),
        sa.Column('closed_year', sa.Integer(), nullable=True),
        sa.Column('created_by', sa.String(length=64), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('archive_key', sa.String(length=512), nullable=True),
        sa.Column('care_team', sa.JSON(), nullable=False),
        sa.Column('encounter_start', sa.DateTime(timezone=True), nullable=True),
        sa.Column('encounter_end', sa.DateTime(timezone=True), nullable=True),
        sa.Column('patient_cccd', sa.String(length=32), nullable=True),
        sa.Column('patient_bhyt', sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint('id')
        )
        op.create_index(op.f('ix_wf_documents_patient_ref'), 'wf_documents', ['patient_ref'], unique=False)
        op.create_index(op.f('ix_wf_documents_tenant'), 'wf_documents', ['tenant'], unique=False)
    if 'wf_idempotency' not in existing:
        op.create_table('wf_idempotency',
        sa.Column('scope', sa.String(length=256), nullable=False),
        sa.Column('request_sha256', sa.String(length=64), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=False),
        sa.Column('headers', sa.JSON(), nullable=False),
        sa.Column('body', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('scope')
        )
    if 'wf_signature_requests' not in existing:
        op.create_table('wf_signature_requests',
        sa.Column('document_id', sa.String(length=64), nullable=False),
        sa.Column('step', sa.Integer(), nullable=False),
        sa.Column('role', sa.String(length=32), nullable=False),
        sa.Column('field', sa.String(length=64), nullable=False),
        sa.Column('methods', sa.JSON(), nullable=False),
        sa.Column('certify', sa.Integer(), nullable=False),
        sa.Column('order_group', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('signed_by', sa.String(length=64), nullable=True),
        sa.Column('signed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('method', sa.String(length=32), nullable=True),
        sa.Column('evidence', sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint('document_id', 'step')
        )
    if 'wf_tenants' not in existing:
        op.create_table('wf_tenants',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=256), nullable=False),
        sa.Column('seal_key_id', sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint('id')
        )
    if 'wf_webhook_deliveries' not in existing:
        op.create_table('wf_webhook_deliveries',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('subscription_id', sa.String(length=64), nullable=False),
        sa.Column('tenant', sa.String(length=32), nullable=False),
        sa.Column('event', sa.String(length=64), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_status', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id')
        )
        op.create_index(op.f('ix_wf_webhook_deliveries_subscription_id'), 'wf_webhook_deliveries', ['subscription_id'], unique=False)
    if 'wf_webhook_subscriptions' not in existing:
        op.create_table('wf_webhook_subscriptions',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('tenant', sa.String(length=32), nullable=False),
        sa.Column('url', sa.Text(), nullable=False),
        sa.Column('events', sa.JSON(), nullable=False),
        sa.Column('signing', sa.String(length=8), nullable=False),
        sa.Column('secret', sa.String(length=128), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id')
        )
        op.create_index(op.f('ix_wf_webhook_subscriptions_tenant'), 'wf_webhook_subscriptions', ['tenant'], unique=False)


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)
