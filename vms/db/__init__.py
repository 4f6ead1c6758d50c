"""Persistence: SQLAlchemy models and the engine (SQLite by default, PostgreSQL by URL)."""

from vms.db.engine import Database
from vms.db.models import Base, CameraRow, EvidenceLock, GroupRow, Segment
from vms.db import auth, exports  # noqa: F401  (registers the tables)
from vms.db.events import CameraDetectionRow, EventRow  # noqa: F401  (registers the tables)
from vms.db import layouts  # noqa: F401,E402  (registers the wall layouts table)

__all__ = ["Base", "CameraRow", "Database", "EvidenceLock", "GroupRow", "Segment"]
from vms.db import alarms  # noqa: F401,E402  (registers the alarm tables)
from vms.db import evidence  # noqa: F401,E402  (registers bookmarks, cases and case exports)
from vms.db import searches  # noqa: F401,E402  (registers motion searches)
