"""The index: cameras, groups, recorded segments and evidence locks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from vms.db.types import SealedText, UTCDateTime, utcnow


class Base(DeclarativeBase):
    pass


class GroupRow(Base):
    __tablename__ = "camera_groups"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    retention_days: Mapped[float | None] = mapped_column(Float)


class CameraRow(Base):
    """A registered camera. Credentials live in their own columns, never inside the URLs."""

    __tablename__ = "cameras"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    group_id: Mapped[str] = mapped_column(ForeignKey("camera_groups.id"))
    main_url: Mapped[str] = mapped_column(Text)
    sub_url: Mapped[str | None] = mapped_column(Text)
    username: Mapped[str | None] = mapped_column(String(200))
    # Sealed with the key outside the database (vms.sealing): a copied database holds no camera password.
    password: Mapped[str | None] = mapped_column(SealedText)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    location_description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    recording_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    segment_seconds: Mapped[float] = mapped_column(Float, default=60)
    record_stream: Mapped[str] = mapped_column(String(8), default="main")
    transport: Mapped[str] = mapped_column(String(8), default="auto", server_default="auto")
    rtsp_client: Mapped[str | None] = mapped_column(String(8), default=None)  # None: ingest.rtsp_client
    # "config" rows are kept in step with the YAML file; "api" rows are owned by the database.
    source: Mapped[str] = mapped_column(String(16), default="api")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Segment(Base):
    """One fragmented-MP4 file covering [start, end) of one camera.

    ``end`` is NULL while the segment is being written (``written_until`` then tells how much of
    it is playable); a NULL left behind by a killed process is repaired from the file at the
    next start.
    """

    __tablename__ = "segments"
    __table_args__ = (Index("ix_segments_camera_start", "camera_id", "start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(String(64), index=True)
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # While the segment is being written: how far its whole fragments reach on disk, so the
    # newest minute can be played back before the segment closes.
    written_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Path relative to the recordings directory of the worker that wrote it.
    path: Mapped[str] = mapped_column(Text, unique=True)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    codec: Mapped[str] = mapped_column(String(16))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    frames: Mapped[int] = mapped_column(Integer, default=0)
    keyframes: Mapped[int] = mapped_column(Integer, default=0)
    worker_id: Mapped[str] = mapped_column(String(64), default="local")

    @property
    def duration_seconds(self) -> float | None:
        return (self.end - self.start).total_seconds() if self.end is not None else None


class EvidenceLock(Base):
    """A time range of one camera that retention must never delete."""

    __tablename__ = "evidence_locks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(String(64), index=True)
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200), default="system")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
