"""Column types shared by the models."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as naive UTC and hands them back aware.

    SQLite has no time zones; normalising at the edge keeps comparisons right on both engines.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=timezone.utc) if value is not None else None


def utcnow() -> datetime:
    """Now, as an aware UTC datetime."""
    return datetime.now(timezone.utc)


class SealedText(TypeDecorator[str]):
    """A secret sealed with the engine's ``Sealer`` (``vms.sealing``) on the way in, opened on the way out.

    The sealer is the one given to ``Database(url, sealer=...)``; a database opened without one
    (unit tests of unrelated parts) stores what it is given and reads back plain or its own values.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        sealer = getattr(dialect, "vms_sealer", None)
        if value is None or sealer is None or value.startswith("fernet:"):
            return value
        return str(sealer.seal(value))

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        sealer = getattr(dialect, "vms_sealer", None)
        if value is None or sealer is None:
            return value
        return str(sealer.open(value))
