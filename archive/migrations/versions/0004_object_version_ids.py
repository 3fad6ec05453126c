"""object version ids: reads pin the locked version

Revision ID: 0004_object_version_ids
Revises: 0003_signer_index
Create Date: 2026-11-27 21:50:00

An S3 versioned bucket accepts a newer version at a locked key; the index now
keeps the version id of the locked write so reads (and the integrity sweep)
use exactly that one. Nullable: rows from before this revision, and stores
without versions, have none (reads then take the key's original version).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004_object_version_ids'
down_revision = '0003_signer_index'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('document_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version_id', sa.String(length=1024), nullable=True))
    with op.batch_alter_table('audit_checkpoints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version_id', sa.String(length=1024), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('audit_checkpoints', schema=None) as batch_op:
        batch_op.drop_column('version_id')
    with op.batch_alter_table('document_versions', schema=None) as batch_op:
        batch_op.drop_column('version_id')
