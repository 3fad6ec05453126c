"""web batch signing jobs under Alembic

Revision ID: 0007_web_batch_jobs
Revises: 0006_remote_signing_tables
Create Date: 2026-11-28 00:50:00

``wf_batch_jobs`` and ``wf_batch_items`` exactly as ``workflow/db.py`` declares
them: a clinician's batch (one confirmation for many documents) and its
per-document state, so any API process shows its progress and ``hsba worker``
(or the API process on the embedded default) runs it from the stored state
(``workflow/batch_jobs.py``). A table already made by ``create_all`` is left
as it is.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007_web_batch_jobs'
down_revision = '0006_remote_signing_tables'
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if 'wf_batch_jobs' not in existing:
        op.create_table('wf_batch_jobs',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('tenant', sa.String(length=32), nullable=False),
        sa.Column('owner', sa.String(length=64), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('runner', sa.String(length=128), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id')
        )
        op.create_index('ix_wf_batch_jobs_owner', 'wf_batch_jobs',
                        ['tenant', 'owner', 'state'], unique=False)
        op.create_index(op.f('ix_wf_batch_jobs_finished_at'), 'wf_batch_jobs',
                        ['finished_at'], unique=False)
    if 'wf_batch_items' not in existing:
        op.create_table('wf_batch_items',
        sa.Column('job_id', sa.String(length=32), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('document_id', sa.String(length=64), nullable=False),
        sa.Column('form_code', sa.String(length=64), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('status', sa.String(length=32), nullable=True),
        sa.Column('error_code', sa.String(length=64), nullable=True),
        sa.Column('error_vi', sa.Text(), nullable=True),
        sa.Column('error_en', sa.Text(), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('job_id', 'position')
        )


def downgrade() -> None:
    op.drop_table('wf_batch_items')
    op.drop_index(op.f('ix_wf_batch_jobs_finished_at'), table_name='wf_batch_jobs')
    op.drop_index('ix_wf_batch_jobs_owner', table_name='wf_batch_jobs')
    op.drop_table('wf_batch_jobs')
