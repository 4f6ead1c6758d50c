"""Alembic environment: migrations run on the connection ``vms.db.migrate`` hands over."""

from __future__ import annotations

from alembic import context

from vms.db.tables import metadata

connection = context.config.attributes["connection"]
# SQLite cannot ALTER most things in place: batch mode copies the table instead.
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
with context.begin_transaction():
    context.run_migrations()
