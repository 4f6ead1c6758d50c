"""Events' own retention, and the "event lock" that keeps recordings of events longer.

Events (rows and snapshot files) are kept ``events.retention_days``. With
``events.keep_recordings_days`` set, a recording segment overlapping an event's clip is not
deleted by age until that many days after the event; recordings retention asks
``event_locked_segments()`` for that clause (quota and free-space deletion may still take
them, so recording never stops for them, unlike evidence locks).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import ColumnElement, exists, false, func, select

from vms.config.detection import EventsConfig
from vms.db import Database, Segment
from vms.db.events import EventRow
from vms.db.types import utcnow
from vms.events.store import EventStore

log = logging.getLogger(__name__)

FAR_FUTURE = datetime(9999, 1, 1, tzinfo=timezone.utc)


def event_locked_segments(config: EventsConfig, now: datetime | None = None) -> ColumnElement[bool]:
    """SQL condition true for a Segment that overlaps the clip of an event still within
    ``keep_recordings_days``; false everywhere when event locks are off."""
    if config.keep_recordings_days is None:
        return false()
    cutoff = (now or utcnow()) - timedelta(days=config.keep_recordings_days)
    return exists(
        select(EventRow.id).where(
            EventRow.camera_id == Segment.camera_id,
            EventRow.start >= cutoff,
            EventRow.clip_start < Segment.end,
            # An event still going on covers everything after its start.
            func.coalesce(EventRow.clip_end, FAR_FUTURE) > Segment.start,
        )
    )


class EventRetention:
    def __init__(self, db: Database, data_dir: Path, config: EventsConfig) -> None:
        self.store = EventStore(db)
        self.data_dir = Path(data_dir)
        self.config = config

    def run_once(self, now: datetime | None = None) -> int:
        """Delete events that ended more than retention_days ago; returns how many."""
        cutoff = (now or utcnow()) - timedelta(days=self.config.retention_days)
        deleted = 0
        while rows := self.store.delete_before(cutoff):
            deleted += len(rows)
            for row in rows:
                if row.snapshot_path:
                    self._remove(self.data_dir / row.snapshot_path)
        if deleted:
            log.info("event retention deleted %d events older than %g days", deleted, self.config.retention_days)
        return deleted

    def _remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        events_dir = self.data_dir / "events"
        for folder in (path.parent, path.parent.parent):  # the emptied day, then camera, folder
            if folder == events_dir or events_dir not in folder.parents:
                break
            try:
                folder.rmdir()
            except OSError:
                break
