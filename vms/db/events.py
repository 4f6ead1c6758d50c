"""Events raised by detectors and camera health, and per-camera detection settings set through the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vms.db.models import Base
from vms.db.types import UTCDateTime, utcnow


class EventRow(Base):
    """One event: what happened, where, when, and who acknowledged it.

    ``end`` is NULL while the event lasts. The clip is a time range of the camera's recordings
    (pre-event seconds before ``start`` to post-event seconds after ``end``); playback resolves
    it from the segments, nothing is copied.
    """

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_camera_start", "camera_id", "start"),
        Index("ix_events_start", "start"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(String(64))
    # The camera's group when the event was raised, so filters and permissions survive regrouping.
    group_id: Mapped[str | None] = mapped_column(String(64), index=True)
    type: Mapped[str] = mapped_column(String(32), index=True)
    zone: Mapped[str | None] = mapped_column(String(64))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the detector decided (start may be earlier: when the vehicle stopped, the stream dropped).
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    score: Mapped[float] = mapped_column(Float, default=1.0)
    # Relative to the data directory: events/<camera>/<date>/<id>.jpg
    snapshot_path: Mapped[str | None] = mapped_column(Text)
    clip_start: Mapped[datetime] = mapped_column(UTCDateTime)
    clip_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    worker_id: Mapped[str] = mapped_column(String(64), default="local")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CameraDetectionRow(Base):
    """A camera's detection settings replaced through the API; it wins over the YAML file."""

    __tablename__ = "camera_detection"

    camera_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(200), default="system")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
