"""Tables of scale-out: the inbox that makes replayed queue messages harmless."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from vms.db.models import Base
from vms.db.types import UTCDateTime, utcnow


class AppliedMessage(Base):
    """A queue message already applied to the database, by its producer-given unique key.

    Written in the same transaction as the message's effect: a redelivered message finds its
    key and changes nothing (at-least-once delivery, exactly-once effect). ``ref`` is the row the
    message created (an event's id), so later messages about the same thing can find it.
    """

    __tablename__ = "applied_messages"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    ref: Mapped[int | None] = mapped_column(Integer)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
