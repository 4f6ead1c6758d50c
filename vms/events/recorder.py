"""Turn a detector's "this started / this ended" into a stored, published and delivered event.

The recorder runs in the worker that owns the camera, so each event is written, published on
the bus and handed to webhooks exactly once however many API processes listen.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

from vms.bus import Bus
from vms.config.detection import EventsConfig
from vms.db import CameraRow, Database
from vms.db.events import EventRow
from vms.db.types import utcnow
from vms.events.store import EventNotFound, EventStore, event_message

log = logging.getLogger(__name__)

EVENTS_TOPIC = "events"


class EventListener(Protocol):
    def submit(self, message: dict[str, Any]) -> None: ...


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


def snapshot_relpath(camera_id: str, start: datetime, event_id: int) -> str:
    """Where an event's JPEG lives under the data folder: ``events/<camera>/<YYYY-MM-DD>/<id>.jpg``."""
    return f"events/{camera_id}/{start:%Y-%m-%d}/{event_id}.jpg"


class EventRecorder:
    """The sink detectors and camera health write to. Times are UTC epoch seconds."""

    def __init__(
        self,
        db: Database,
        bus: Bus,
        data_dir: Path,
        config: EventsConfig,
        worker_id: str = "local",
        listeners: list[EventListener] | None = None,
    ) -> None:
        self.db = db
        self.bus = bus
        self.data_dir = Path(data_dir)
        self.config = config
        self.worker_id = worker_id
        self.store = EventStore(db)
        self.listeners = list(listeners or [])

    def open(
        self,
        camera_id: str,
        type: str,
        start: float,
        detected_at: float | None = None,
        zone: str | None = None,
        score: float = 1.0,
        snapshot: bytes | None = None,
        details: dict[str, Any] | None = None,
    ) -> int:
        """Store and publish a new event; returns its id."""
        started = _utc(start)
        row = EventRow(
            camera_id=camera_id,
            group_id=self._group(camera_id),
            type=type,
            zone=zone,
            start=started,
            detected_at=_utc(detected_at if detected_at is not None else start),
            score=float(score),
            clip_start=started - timedelta(seconds=self.config.pre_event_seconds),
            details=details or {},
            worker_id=self.worker_id,
        )
        with self.db.session() as session:
            session.add(row)
            session.flush()
            if snapshot:
                row.snapshot_path = snapshot_relpath(camera_id, started, row.id)
                self._write(self.data_dir / row.snapshot_path, snapshot)
        self._emit(event_message(row, "start"))
        return row.id

    def close(self, event_id: int, end: float, score: float | None = None) -> None:
        ended = _utc(end)
        try:
            row = self.store.get(event_id)
        except EventNotFound:
            log.warning("event %s ended but no longer exists (retention?)", event_id)
            return
        ended = max(ended, row.start)
        values: dict[str, Any] = {"end": ended, "clip_end": ended + timedelta(seconds=self.config.post_event_seconds)}
        if score is not None:
            values["score"] = max(row.score, float(score))
        row = self.store.update(event_id, **values)
        self._emit(event_message(row, "end"))

    def instant(self, camera_id: str, type: str, at: float, **kw: Any) -> int:
        """An event with no duration, such as "camera back online"."""
        event_id = self.open(camera_id, type, at, **kw)
        self.close(event_id, at)
        return event_id

    def acknowledge(self, event_id: int, by: str) -> dict[str, Any]:
        message = event_message(self.store.acknowledge(event_id, by), "ack")
        self.bus.publish(EVENTS_TOPIC, message)
        return message

    def close_orphans(self) -> int:
        """End events this worker left open when it stopped or crashed, at the time of the restart."""
        rows = self.store.open_events(self.worker_id)
        now = utcnow().timestamp()
        for row in rows:
            self.store.update(row.id, details={**(row.details or {}), "ended_by": "restart"})
            self.close(row.id, now)
        return len(rows)

    def _emit(self, message: dict[str, Any]) -> None:
        self.bus.publish(EVENTS_TOPIC, message)
        for listener in self.listeners:
            try:
                listener.submit(message)
            except Exception:
                log.exception("event listener failed")

    def _group(self, camera_id: str) -> str | None:
        with self.db.session() as session:
            row = session.get(CameraRow, camera_id)
            return row.group_id if row is not None else None

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(data)
        os.replace(temporary, path)
