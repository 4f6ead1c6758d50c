"""Each user's saved wall layouts, by name: list, save (replacing a layout of that name), delete."""

from __future__ import annotations

from sqlalchemy import func, select

from vms.db import Database
from vms.db.layouts import WallLayoutRow

MAX_LAYOUTS = 100  # per user: bounds the table whatever a client sends


class LayoutNotFound(LookupError):
    """No layout with that id belongs to the user (someone else's does not exist for them)."""


class TooManyLayouts(ValueError):
    """The user already has ``MAX_LAYOUTS`` layouts."""


class WallLayouts:
    """The saved layouts in the database; each call is one transaction."""
    def __init__(self, db: Database) -> None:
        self.db = db

    def of_user(self, user_id: int) -> list[WallLayoutRow]:
        """The user's layouts, by name."""
        with self.db.session() as session:
            return list(session.scalars(
                select(WallLayoutRow).where(WallLayoutRow.user_id == user_id).order_by(WallLayoutRow.name)
            ))

    def save(self, user_id: int, name: str, tiles: int, cameras: list[str | None]) -> WallLayoutRow:
        """Store a layout under ``name`` (``cameras``: one camera id or None per tile, in reading
        order); raises ``TooManyLayouts`` for a new name past ``MAX_LAYOUTS``."""
        with self.db.session() as session:
            row = session.scalars(
                select(WallLayoutRow).where(WallLayoutRow.user_id == user_id, WallLayoutRow.name == name)
            ).first()
            if row is None:
                count = session.scalar(select(func.count(WallLayoutRow.id)).where(WallLayoutRow.user_id == user_id))
                if (count or 0) >= MAX_LAYOUTS:
                    raise TooManyLayouts(f"you have {MAX_LAYOUTS} layouts; delete one first")
                row = WallLayoutRow(user_id=user_id, name=name)
                session.add(row)
            row.tiles, row.cameras = tiles, cameras
            session.flush()
            return row

    def delete(self, user_id: int, layout_id: int) -> None:
        """Delete one of the user's layouts; raises ``LayoutNotFound``."""
        with self.db.session() as session:
            row = session.get(WallLayoutRow, layout_id)
            if row is None or row.user_id != user_id:
                raise LayoutNotFound("no such layout")
            session.delete(row)
