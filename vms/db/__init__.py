"""Persistence: SQLAlchemy models and the engine (SQLite by default, PostgreSQL by URL)."""

from vms.db.engine import Database
from vms.db.models import Base, CameraRow, EvidenceLock, GroupRow, Segment

__all__ = ["Base", "CameraRow", "Database", "EvidenceLock", "GroupRow", "Segment"]
