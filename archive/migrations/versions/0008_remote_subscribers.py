"""remote-signing subscriber bindings under Alembic

Revision ID: 0008_remote_subscribers
Revises: 0007_web_batch_jobs
Create Date: 2026-11-28 01:00:00

``remote_subscribers`` exactly as ``api/remote/pending_db.py`` declares it: which
app-confirmed provider subscriber (CCCD, passport or tax id) each staff account is,
so that a workflow document is sent for remote signature only under the clinician's
own subscriber id. A table already made on first use is left as it is.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008_remote_subscribers'
down_revision = '0007_web_batch_jobs'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if 'remote_subscribers' in set(sa.inspect(op.get_bind()).get_table_names()):
        return
    op.create_table('remote_subscribers',
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('tenant', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('bound_by', sa.String(length=64), nullable=False),
    sa.Column('bound_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('account_id')
    )
    op.create_index(op.f('ix_remote_subscribers_tenant'), 'remote_subscribers', ['tenant'],
                    unique=False)


def downgrade() -> None:
    op.drop_table('remote_subscribers')
