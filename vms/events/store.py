"""Read and write event rows; every event leaves here as the same JSON-able message."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select

from vms.db import Database
from vms.db.events import EventRow
from vms.db.types import utcnow


class EventNotFound(LookupError):
    pass


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def event_message(row: EventRow, phase: str | None = None) -> dict[str, Any]:
    """The event as the API, the bus and webhooks show it (times are ISO 8601 UTC)."""
    message = {
        "id": row.id,
        "type": row.type,
        "camera_id": row.camera_id,
        "group": row.group_id,
        "zone": row.zone,
        "start": _iso(row.start),
        "end": _iso(row.end),
        "detected_at": _iso(row.detected_at),
        "score": row.score,
        "snapshot": f"/api/events/{row.id}/snapshot.jpg" if row.snapshot_path else None,
        # Playback resolves this range from the recording segments of the camera.
        "clip": {"camera_id": row.camera_id, "start": _iso(row.clip_start), "end": _iso(row.clip_end)},
        "details": row.details or {},
        "acknowledged_by": row.acknowledged_by,
        "acknowledged_at": _iso(row.acknowledged_at),
        "worker_id": row.worker_id,
    }
    if phase is not None:
        message["phase"] = phase
    return message


@dataclass
class EventQuery:
    cameras: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    zones: list[str] = field(default_factory=list)  # detection zone names, e.g. "lane-2"
    # Events overlapping [since, until]: an event still going on at ``since`` is included.
    since: datetime | None = None
    until: datetime | None = None
    unacknowledged: bool = False
    limit: int = 100
    offset: int = 0


class EventStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, row: EventRow) -> EventRow:
        with self.db.session() as session:
            session.add(row)
            session.flush()
            return row

    def update(self, event_id: int, **values: Any) -> EventRow:
        with self.db.session() as session:
            row = session.get(EventRow, event_id)
            if row is None:
                raise EventNotFound(f"event {event_id} does not exist")
            for key, value in values.items():
                setattr(row, key, value)
            return row

    def get(self, event_id: int) -> EventRow:
        with self.db.session() as session:
            row = session.get(EventRow, event_id)
            if row is None:
                raise EventNotFound(f"event {event_id} does not exist")
            return row

    def query(self, query: EventQuery) -> list[EventRow]:
        statement = select(EventRow)
        if query.cameras:
            statement = statement.where(EventRow.camera_id.in_(query.cameras))
        if query.groups:
            statement = statement.where(EventRow.group_id.in_(query.groups))
        if query.types:
            statement = statement.where(EventRow.type.in_(query.types))
        if query.zones:
            statement = statement.where(EventRow.zone.in_(query.zones))
        if query.since is not None:
            statement = statement.where(or_(EventRow.end.is_(None), EventRow.end >= query.since))
        if query.until is not None:
            statement = statement.where(EventRow.start <= query.until)
        if query.unacknowledged:
            statement = statement.where(EventRow.acknowledged_at.is_(None))
        statement = statement.order_by(EventRow.start.desc(), EventRow.id.desc())
        with self.db.session() as session:
            return list(session.scalars(statement.offset(query.offset).limit(query.limit)))

    def acknowledge(self, event_id: int, by: str, at: datetime | None = None) -> EventRow:
        """Mark the event acknowledged; acknowledging twice keeps the first operator and time."""
        with self.db.session() as session:
            row = session.get(EventRow, event_id)
            if row is None:
                raise EventNotFound(f"event {event_id} does not exist")
            if row.acknowledged_at is None:
                row.acknowledged_by, row.acknowledged_at = by, at or utcnow()
            return row

    def open_events(self, worker_id: str) -> list[EventRow]:
        with self.db.session() as session:
            return list(session.scalars(select(EventRow).where(EventRow.end.is_(None), EventRow.worker_id == worker_id)))

    def delete_before(self, cutoff: datetime, batch: int = 500) -> list[EventRow]:
        """Delete up to ``batch`` events that ended before ``cutoff``; returns the deleted rows."""
        with self.db.session() as session:
            rows = list(
                session.scalars(
                    select(EventRow).where(EventRow.end.is_not(None), EventRow.end < cutoff).order_by(EventRow.end).limit(batch)
                )
            )
            if rows:
                session.execute(delete(EventRow).where(EventRow.id.in_([r.id for r in rows])))
            return rows
