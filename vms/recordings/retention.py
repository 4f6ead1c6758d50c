"""Delete old recordings: per-group age, a total quota and a free-space floor, oldest first.

Segments being written and segments overlapping an evidence lock are never deleted. When
the disk is full the recorder asks for an urgent pass, so recording never stops for space.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import ColumnElement, Select, delete, exists, func, select

from vms.config.detection import EventsConfig
from vms.config.storage import StorageConfig
from vms.db import CameraRow, Database, EvidenceLock, GroupRow, Segment
from vms.db.types import utcnow
from vms.events.retention import event_locked_segments

log = logging.getLogger(__name__)

# Segments are deleted in batches of this many rows per query.
BATCH = 200
# After a write failed for lack of space, free at least this share of the disk at once,
# so the recorders get room for more than one fragment before the next failure.
URGENT_FREE_FRACTION = 0.10


@dataclass
class RetentionReport:
    deleted: list[str] = field(default_factory=list)
    freed_bytes: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def _count(self, reason: str, segment: Segment) -> None:
        self.deleted.append(segment.path)
        self.freed_bytes += segment.bytes
        self.reasons[reason] = self.reasons.get(reason, 0) + 1


def _not_locked() -> ColumnElement[bool]:
    lock = select(EvidenceLock.id).where(
        EvidenceLock.camera_id == Segment.camera_id,
        EvidenceLock.start < Segment.end,
        EvidenceLock.end > Segment.start,
    )
    return ~exists(lock)


class Retention:
    def __init__(
        self, db: Database, recordings_dir: Path, storage: StorageConfig, events: EventsConfig | None = None
    ) -> None:
        self.db = db
        self.recordings_dir = recordings_dir
        self.storage = storage
        # Recordings around events may be kept longer than their group's age limit.
        self.events = events or EventsConfig()

    def run_once(self, now: datetime | None = None, urgent: bool = False) -> RetentionReport:
        """One pass of every rule; ``urgent`` (a write failed for space) raises the free-space floor."""
        now = now or utcnow()
        report = RetentionReport()
        self._by_age(now, report)
        self._by_quota(report)
        self._by_free_space(report, urgent)
        if report.deleted:
            log.info("retention deleted %d segments (%d bytes): %s", len(report.deleted), report.freed_bytes, report.reasons)
        return report

    def _deletable(self) -> Select[Segment]:
        return select(Segment).where(Segment.end.is_not(None), _not_locked()).order_by(Segment.start)

    def _by_age(self, now: datetime, report: RetentionReport) -> None:
        with self.db.session() as session:
            groups = session.execute(select(GroupRow.id, GroupRow.retention_days)).all()
        for group_id, days in groups:
            if not days:
                continue
            cutoff = now - timedelta(days=days)
            cameras = select(CameraRow.id).where(CameraRow.group_id == group_id)
            query = self._deletable().where(
                Segment.end <= cutoff, Segment.camera_id.in_(cameras), ~event_locked_segments(self.events, now)
            )
            while self._delete_batch(query, f"age>{days:g}d", report, limit=BATCH) == BATCH:
                pass

    def _by_quota(self, report: RetentionReport) -> None:
        quota = self.storage.quota
        if quota is None:
            return
        with self.db.session() as session:
            used = session.scalar(select(func.coalesce(func.sum(Segment.bytes), 0))) or 0
        while used > quota:
            freed = self._delete_oldest(used - quota, "quota", report)
            if freed == 0:
                log.error("recordings use %d bytes over the quota of %d but nothing more may be deleted", used - quota, quota)
                return
            used -= freed

    def _by_free_space(self, report: RetentionReport, urgent: bool) -> None:
        self.recordings_dir.mkdir(parents=True, exist_ok=True)
        floor = int(self.storage.min_free)
        if urgent:
            floor = max(floor, int(shutil.disk_usage(self.recordings_dir).total * URGENT_FREE_FRACTION))
        while (missing := floor - shutil.disk_usage(self.recordings_dir).free) > 0:
            if self._delete_oldest(missing, "free-space", report) == 0:
                log.error("disk below the free-space floor by %d bytes and nothing more may be deleted", missing)
                return

    def _delete_oldest(self, needed: int, reason: str, report: RetentionReport) -> int:
        """Delete oldest deletable segments until ``needed`` bytes are freed; return bytes freed."""
        freed = 0
        while freed < needed:
            before = report.freed_bytes
            if self._delete_batch(self._deletable(), reason, report, limit=1) == 0:
                break
            freed += report.freed_bytes - before
        return freed

    def _delete_batch(self, query: Select[Segment], reason: str, report: RetentionReport, limit: int) -> int:
        with self.db.session() as session:
            segments = list(session.scalars(query.limit(limit)))
            for segment in segments:
                self._remove_file(self.recordings_dir / segment.path)
                report._count(reason, segment)
            if segments:
                session.execute(delete(Segment).where(Segment.id.in_([s.id for s in segments])))
        return len(segments)

    def _remove_file(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        # Drop the emptied day and camera folders, never the recordings root itself.
        for folder in (path.parent, path.parent.parent):
            if folder == self.recordings_dir or self.recordings_dir not in folder.parents:
                break
            try:
                folder.rmdir()
            except OSError:
                break


def lock_range(db: Database, camera_id: str, start: datetime, end: datetime, reason: str, by: str) -> int:
    """Protect [start, end) of a camera from retention; returns the lock id."""
    if end <= start:
        raise ValueError("evidence lock must end after it starts")
    with db.session() as session:
        lock = EvidenceLock(camera_id=camera_id, start=start, end=end, reason=reason, created_by=by)
        session.add(lock)
        session.flush()
        return lock.id
