"""Each camera may say which RTSP client pulls it (``cameras.rtsp_client``: ffmpeg, builtin or NULL).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

NULL (every existing camera) keeps the deployment's ``ingest.rtsp_client``, as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rtsp_client", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.drop_column("rtsp_client")
