"""Motion searches kept in the database, so their results outlive an API restart (issue 15).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

A new table only: existing rows are untouched. Searches made before this revision lived in
memory and are gone with the process that ran them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "motion_searches",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("region", sa.JSON(), nullable=False),
        sa.Column("start", sa.DateTime(), nullable=False),
        sa.Column("end", sa.DateTime(), nullable=False),
        sa.Column("sensitivity", sa.Float(), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("keyframes", sa.Integer(), nullable=False),
        sa.Column("moments", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("motion_searches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_motion_searches_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("motion_searches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_motion_searches_created_at"))
    op.drop_table("motion_searches")
