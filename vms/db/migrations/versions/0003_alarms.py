"""Alarms and alarm rules (issue 14): ``alarm_rules`` and ``alarms``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

New tables only; existing rows are untouched. ``alarms.event_id`` is unique so an event raises
at most one alarm however many processes hear it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alarm_rules",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("instruction", sa.Text(), nullable=False),
        sa.Column("escalate_after_seconds", sa.Float(), nullable=True),
        sa.Column("wall_action", sa.JSON(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "alarms",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("group_id", sa.String(length=64), nullable=True),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("instruction", sa.Text(), nullable=False),
        sa.Column("wall_action", sa.JSON(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("raised_at", sa.DateTime(), nullable=False),
        sa.Column("escalate_at", sa.DateTime(), nullable=True),
        sa.Column("escalated_at", sa.DateTime(), nullable=True),
        sa.Column("taken_by", sa.String(length=200), nullable=True),
        sa.Column("taken_at", sa.DateTime(), nullable=True),
        sa.Column("closed_by", sa.String(length=200), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("has_snapshot", sa.Boolean(), nullable=False),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index("ix_alarms_state_raised", "alarms", ["state", "raised_at"], unique=False)
    op.create_index(op.f("ix_alarms_camera_id"), "alarms", ["camera_id"], unique=False)
    op.create_index(op.f("ix_alarms_group_id"), "alarms", ["group_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_alarms_group_id"), table_name="alarms")
    op.drop_index(op.f("ix_alarms_camera_id"), table_name="alarms")
    op.drop_index("ix_alarms_state_raised", table_name="alarms")
    op.drop_table("alarms")
    op.drop_table("alarm_rules")
