"""Saved video-wall layouts: each user's named arrangements of cameras in 1, 4, 9 or 16 tiles."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vms.db.models import Base
from vms.db.types import UTCDateTime, utcnow


class WallLayoutRow(Base):
    __tablename__ = "wall_layouts"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_wall_layout_user_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Users are disabled, never deleted; a layout follows its user.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    tiles: Mapped[int] = mapped_column(Integer)  # 1, 4, 9 or 16
    # One entry per tile, in reading order: a camera id, or null for an empty tile.
    cameras: Mapped[list[str | None]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
