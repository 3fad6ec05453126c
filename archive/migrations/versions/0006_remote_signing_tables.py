"""remote-signing tables under Alembic

Revision ID: 0006_remote_signing_tables
Revises: 0005_workflow_tables
Create Date: 2026-11-27 23:00:00

The CSC service's state (``api/csc/state.py``: SADs, credential locks, OAuth
codes, last accepted TOTP step) and the app-confirmed providers' pending
transactions (``api/remote/pending_db.py``), exactly as those modules declare
them (rendered by Alembic autogenerate from their metadata). Both modules also
create their tables on first use (``checkfirst``) for databases not migrated
yet; a table already present is left as it is.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006_remote_signing_tables'
down_revision = '0005_workflow_tables'
branch_labels = None
depends_on = None

TABLES = (
    'csc_credential_locks',
    'csc_oauth_codes',
    'csc_otp_steps',
    'csc_sads',
    'remote_pending_transactions',
)


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if 'csc_credential_locks' not in existing:
        op.create_table('csc_credential_locks',
        sa.Column('credential_id', sa.String(length=128), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('locked_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('credential_id')
        )
    if 'csc_oauth_codes' not in existing:
        op.create_table('csc_oauth_codes',
        sa.Column('code_sha256', sa.String(length=64), nullable=False),
        sa.Column('account_id', sa.String(length=64), nullable=False),
        sa.Column('client_id', sa.String(length=128), nullable=False),
        sa.Column('redirect_uri', sa.String(length=1024), nullable=False),
        sa.Column('code_challenge', sa.String(length=128), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('code_sha256')
        )
    if 'csc_otp_steps' not in existing:
        op.create_table('csc_otp_steps',
        sa.Column('credential_id', sa.String(length=128), nullable=False),
        sa.Column('last_step', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('credential_id')
        )
    if 'csc_sads' not in existing:
        op.create_table('csc_sads',
        sa.Column('sad_sha256', sa.String(length=64), nullable=False),
        sa.Column('credential_id', sa.String(length=128), nullable=False),
        sa.Column('subject', sa.String(length=64), nullable=False),
        sa.Column('hashes', sa.JSON(), nullable=False),
        sa.Column('num_signatures', sa.Integer(), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('sad_sha256')
        )
    if 'remote_pending_transactions' not in existing:
        op.create_table('remote_pending_transactions',
        sa.Column('transaction_id', sa.String(length=64), nullable=False),
        sa.Column('tran_code', sa.String(length=128), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('payload', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('transaction_id')
        )
        op.create_index(op.f('ix_remote_pending_transactions_status'),
                        'remote_pending_transactions', ['status'], unique=False)
        op.create_index(op.f('ix_remote_pending_transactions_tran_code'),
                        'remote_pending_transactions', ['tran_code'], unique=False)


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)
