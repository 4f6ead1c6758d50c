"""Alembic migrations of the vms schema (``vms.db.migrate`` runs them at start)."""
