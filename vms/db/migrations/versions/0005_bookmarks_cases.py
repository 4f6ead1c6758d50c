"""Bookmarks, cases, their items and case packages (issue 15: investigations).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

New tables only: existing rows are untouched. Evidence locks keep their table; the chain of
custody is the audit log.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("bookmarks",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("camera_id", sa.String(length=64), nullable=False),
    sa.Column("start", sa.DateTime(), nullable=False),
    sa.Column("end", sa.DateTime(), nullable=True),
    sa.Column("title", sa.String(length=200), nullable=False),
    sa.Column("note", sa.Text(), nullable=False),
    sa.Column("lock_id", sa.Integer(), nullable=True),
    sa.Column("created_by", sa.String(length=64), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("bookmarks", schema=None) as batch_op:
        batch_op.create_index("ix_bookmarks_camera_start", ["camera_id", "start"], unique=False)

    op.create_table("cases",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("number", sa.String(length=64), nullable=False),
    sa.Column("title", sa.String(length=200), nullable=False),
    sa.Column("description", sa.Text(), nullable=False),
    sa.Column("created_by", sa.String(length=64), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("number")
    )
    op.create_table("case_items",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("case_id", sa.Integer(), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("camera_id", sa.String(length=64), nullable=True),
    sa.Column("start", sa.DateTime(), nullable=True),
    sa.Column("end", sa.DateTime(), nullable=True),
    sa.Column("bookmark_id", sa.Integer(), nullable=True),
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("added_by", sa.String(length=64), nullable=False),
    sa.Column("added_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("case_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_items_case_id"), ["case_id"], unique=False)

    op.create_table("case_exports",
    sa.Column("id", sa.String(length=32), nullable=False),
    sa.Column("case_id", sa.Integer(), nullable=False),
    sa.Column("state", sa.String(length=16), nullable=False),
    sa.Column("percent", sa.Float(), nullable=False),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("folder", sa.Text(), nullable=False),
    sa.Column("requested_by", sa.String(length=64), nullable=False),
    sa.Column("client_ip", sa.String(length=64), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("finished_at", sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("case_exports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_exports_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    op.drop_table("case_exports")
    op.drop_table("case_items")
    op.drop_table("cases")
    op.drop_table("bookmarks")
