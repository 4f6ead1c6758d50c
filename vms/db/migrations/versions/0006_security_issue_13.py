"""Security hardening (issue 13): two-factor sign-in, lockout per (user, address), sealed secrets.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

- ``two_factor``: each user's TOTP seed (sealed) and recovery-code hashes.
- ``login_addresses``: addresses a user signed in from (a user-wide lock spares them).
- ``sessions.stage``: "full", or "enrol" for a session that may only set up two-factor sign-in.
- ``login_throttle.locks``: how many times a key was locked (each lock lasts twice the last).
- ``cameras.password`` becomes TEXT: a sealed value (``fernet:…``) is longer than 200 characters
  for long passwords. Plain values are sealed by ``vms.db.secure.reseal`` at start, not here:
  the key lives outside the database, with the process.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "two_factor",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("last_step", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("recovery_hashes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "login_addresses",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("address", sa.String(64), primary_key=True),
        sa.Column("last_ok_at", sa.DateTime(), nullable=False),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stage", sa.String(16), nullable=False, server_default="full"))
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locks", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.alter_column("password", type_=sa.Text(), existing_type=sa.String(200), existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.alter_column("password", type_=sa.String(200), existing_type=sa.Text(), existing_nullable=True)
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.drop_column("locks")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("stage")
    op.drop_table("login_addresses")
    op.drop_table("two_factor")
