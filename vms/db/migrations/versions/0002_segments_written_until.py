"""Segments being written say how far their whole fragments reach (``segments.written_until``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30

Playback of the live edge (commit 3e111f6) reads it; NULL for every closed segment, so existing
rows need no value.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("segments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("written_until", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("segments", schema=None) as batch_op:
        batch_op.drop_column("written_until")
