"""Export failures as codes with parameters (issue 14: the dashboard says them in Vietnamese).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

- ``exports.error_code`` / ``error_params`` and the same on ``case_exports``: why an export
  failed, as a code (``vms.recordings.export_failure``) and its parameters. ``error`` keeps the
  English sentence. Rows failed before this migration have no code; the dashboard shows their
  sentence as it is.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("exports", "case_exports"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("error_code", sa.String(32), nullable=True))
            batch_op.add_column(sa.Column("error_params", sa.JSON(), nullable=True))


def downgrade() -> None:
    for table in ("exports", "case_exports"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("error_params")
            batch_op.drop_column("error_code")
