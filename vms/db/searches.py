"""Motion searches in recordings: the request, its progress and the moments found (the newest few)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vms.db.models import Base
from vms.db.types import UTCDateTime, utcnow


class MotionSearchRow(Base):
    """One search. ``region`` is [x, y, w, h] as fractions of the picture; ``moments`` is a list
    of [start ISO-8601, end ISO-8601, peak 0..1]. Only the newest ``motion_search.KEEP`` are kept."""

    __tablename__ = "motion_searches"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(64))
    region: Mapped[list[float]] = mapped_column(JSON)
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    sensitivity: Mapped[float] = mapped_column(Float)
    requested_by: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # queued, running, done, failed
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    keyframes: Mapped[int] = mapped_column(Integer, default=0)
    moments: Mapped[list[Any]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
