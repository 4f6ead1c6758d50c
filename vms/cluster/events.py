"""Events through the durable queue: workers send them, an event store consumer writes them once.

``QueuedEventSink`` is what a worker's detectors write to in scale-out mode (the ``EventSink``
protocol of ``streams.detect.pipeline``): it never touches the database, so events survive a
database or Redis outage (the queue buffers). Every event gets a unique id (``uid``) at the
source. ``EventStoreConsumer`` applies ``open``/``close`` messages to the ``events`` table
idempotently (``AppliedMessage`` keyed by the uid, in the same transaction) and then publishes
the stored event on the bus topic ``events``, as ``EventRecorder`` does in one process.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from vms.bus import Bus
from vms.bus.streams import DurableQueue, QueueConsumer
from vms.cluster.models import AppliedMessage
from vms.config.detection import EventsConfig
from vms.db import CameraRow, Database
from vms.db.events import EventRow
from vms.events.recorder import EventListener

log = logging.getLogger(__name__)

EVENTS_STREAM = "events"
EVENTS_TOPIC = "events"
STORE_GROUP = "event-store"


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


class QueuedEventSink:
    """Detectors' event sink on a worker: each open/close becomes a durable queue message."""

    def __init__(self, queue: DurableQueue, worker_id: str, data_dir: Path | None = None, db: Database | None = None) -> None:
        self.queue = queue
        self.worker_id = worker_id
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.db = db  # only to find events a previous run of this worker left open
        self._uids: dict[int, str] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def open(self, camera_id: str, type: str, start: float, detected_at: float | None = None, zone: str | None = None,
             score: float = 1.0, snapshot: bytes | None = None, details: dict[str, Any] | None = None) -> int:
        uid = uuid.uuid4().hex
        snapshot_path = None
        if snapshot and self.data_dir is not None:
            snapshot_path = f"events/{camera_id}/{_utc(start):%Y-%m-%d}/{uid}.jpg"
            _write(self.data_dir / snapshot_path, snapshot)
        self.queue.add({
            "uid": uid, "op": "open", "camera_id": camera_id, "type": type, "start": start,
            "detected_at": detected_at if detected_at is not None else start, "zone": zone, "score": float(score),
            "snapshot_path": snapshot_path, "details": details or {}, "worker_id": self.worker_id,
        })
        with self._lock:
            local_id = next(self._ids)
            self._uids[local_id] = uid
        return local_id

    def close(self, event_id: int, end: float, score: float | None = None) -> None:
        with self._lock:
            uid = self._uids.pop(event_id, None)
        if uid is None:
            log.warning("event %s closed but never opened here", event_id)
            return
        self.queue.add({"uid": uid, "op": "close", "end": end, "score": score})

    def close_orphans(self) -> int:
        """Queue the end of every event this worker left open when it stopped or crashed."""
        if self.db is None:
            return 0
        now = time.time()
        with self.db.session() as session:
            rows = session.execute(
                select(AppliedMessage.key)
                .join(EventRow, EventRow.id == AppliedMessage.ref)
                .where(EventRow.end.is_(None), EventRow.worker_id == self.worker_id, AppliedMessage.key.like("event:%:open"))
            ).all()
        for (key,) in rows:
            self.queue.add({"uid": key.split(":")[1], "op": "close", "end": now, "score": None})
        return len(rows)

    def instant(self, camera_id: str, type: str, at: float, **kw: Any) -> int:
        """An event with no duration, such as "camera back online"."""
        event_id = self.open(camera_id, type, at, **kw)
        self.close(event_id, at)
        return event_id


class EventStoreConsumer:
    """Writes queued events to the database exactly once in effect, then publishes them."""

    def __init__(self, db: Database, queue: DurableQueue, consumer: str, config: EventsConfig = EventsConfig(),
                 bus: Bus | None = None, listeners: list[EventListener] | None = None) -> None:
        self.db = db
        self.config = config
        self.bus = bus
        self.listeners = list(listeners or [])  # e.g. the WebhookDispatcher: ``submit(message)``
        self.runner = QueueConsumer(queue, consumer, self.handle)

    def start(self) -> "EventStoreConsumer":
        self.runner.start()
        return self

    def stop(self) -> None:
        self.runner.stop()

    def handle(self, message: dict[str, Any]) -> None:
        try:
            row, phase = self._apply(message)
        except IntegrityError:
            # Another consumer applied the same message at the same moment: nothing left to do.
            log.info("event message %s/%s already applied", message.get("uid"), message.get("op"))
            return
        if row is None:
            return
        from vms.events.store import event_message

        stored = event_message(row, phase)
        if self.bus is not None:
            self.bus.publish(EVENTS_TOPIC, stored)
        for listener in self.listeners:
            try:
                listener.submit(stored)
            except Exception:
                log.exception("event listener failed")

    def _apply(self, message: dict[str, Any]) -> tuple[EventRow | None, str]:
        uid, op = message["uid"], message["op"]
        key = f"event:{uid}:{op}"
        with self.db.session() as session:
            if session.get(AppliedMessage, key) is not None:
                return None, op  # a redelivery
            if op == "open":
                start = _utc(message["start"])
                camera = session.get(CameraRow, message["camera_id"])
                row = EventRow(
                    camera_id=message["camera_id"],
                    group_id=camera.group_id if camera is not None else None,
                    type=message["type"],
                    zone=message.get("zone"),
                    start=start,
                    detected_at=_utc(message["detected_at"]),
                    score=float(message.get("score", 1.0)),
                    snapshot_path=message.get("snapshot_path"),
                    clip_start=start - timedelta(seconds=self.config.pre_event_seconds),
                    details=message.get("details") or {},
                    worker_id=message.get("worker_id", "local"),
                )
                session.add(row)
                session.flush()
                session.add(AppliedMessage(key=key, ref=row.id))
                return row, "start"
            if op == "close":
                opened = session.get(AppliedMessage, f"event:{uid}:open")
                row = session.get(EventRow, opened.ref) if opened is not None else None
                if row is None:
                    raise LookupError(f"event {uid} closed before its opening was stored")  # retried later
                end = max(_utc(message["end"]), row.start)
                row.end = end
                row.clip_end = end + timedelta(seconds=self.config.post_event_seconds)
                if message.get("score") is not None:
                    row.score = max(row.score, float(message["score"]))
                session.add(AppliedMessage(key=key, ref=row.id))
                return row, "end"
            raise ValueError(f"unknown event operation {op!r}")


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
