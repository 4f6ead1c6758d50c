"""Each camera says which RTP transport to ask for (``cameras.transport``: auto, tcp or udp).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

Cameras that refuse RTP over TCP (``461 Unsupported transport``) are pulled over UDP. Existing
cameras get ``auto``: TCP as before, UDP only once a camera answers 461.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.add_column(sa.Column("transport", sa.String(length=8), server_default="auto", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.drop_column("transport")
