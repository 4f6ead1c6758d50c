"""Alarms (events an operator must handle) and the rules that raise them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vms.db.models import Base
from vms.db.types import UTCDateTime, utcnow


class AlarmRuleRow(Base):
    """One alarm rule; ``source`` "config" rows are kept in step with the YAML file."""

    __tablename__ = "alarm_rules"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    priority: Mapped[str] = mapped_column(String(16), default="medium")
    instruction: Mapped[str] = mapped_column(Text, default="")
    escalate_after_seconds: Mapped[float | None] = mapped_column(Float)
    wall_action: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(16), default="api")
    updated_by: Mapped[str] = mapped_column(String(200), default="system")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AlarmRow(Base):
    """One alarm: new, then in progress (taken by a named operator), then closed with a comment.

    ``event_id`` is unique so an event raises at most one alarm, however many processes hear it.
    ``history`` lists every step ({"at", "by", "action", ...}); the audit log holds them too.
    """

    __tablename__ = "alarms"
    __table_args__ = (Index("ix_alarms_state_raised", "state", "raised_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(Integer, unique=True)
    rule_id: Mapped[str] = mapped_column(String(64))
    camera_id: Mapped[str] = mapped_column(String(64), index=True)
    group_id: Mapped[str | None] = mapped_column(String(64), index=True)
    type: Mapped[str] = mapped_column(String(32))
    zone: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(16))
    instruction: Mapped[str] = mapped_column(Text, default="")
    wall_action: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="new")
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When an untaken alarm escalates; NULL when its rule never escalates.
    escalate_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    taken_by: Mapped[str | None] = mapped_column(String(200))
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(200))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(32))
    comment: Mapped[str | None] = mapped_column(Text)
    has_snapshot: Mapped[bool] = mapped_column(Boolean, default=False)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
