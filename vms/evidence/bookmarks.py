"""Bookmarks: a titled moment or range of one camera, with a note; searchable; optionally locked.

A bookmark that protects its range creates an evidence lock of exactly that range (a moment is
locked one second either side, so the pictures around it survive).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select

from vms.auth.audit import Actor, audit
from vms.db import Database
from vms.db.evidence import BookmarkRow
from vms.errors import CodedError
from vms.evidence.locks import create_lock

MOMENT_LOCK_MARGIN = timedelta(seconds=1)


class BookmarkNotFound(LookupError):
    pass


def _detail(row: BookmarkRow) -> dict[str, Any]:
    return {"bookmark": row.id, "start": row.start, "end": row.end, "title": row.title, "lock": row.lock_id}


def create_bookmark(db: Database, actor: Actor, camera_id: str, start: datetime, end: datetime | None, title: str,
                    note: str = "", lock: bool = False, client_ip: str = "") -> BookmarkRow:
    """A bookmark; CodedError (a ValueError: title-required, bad-range) for an empty title or a range ending before it starts."""
    if not title.strip():
        raise CodedError("a bookmark needs a title", "title-required")
    if end is not None and end < start:
        raise CodedError("a bookmark's range must end after it starts", "bad-range")
    lock_id = None
    if lock:
        lock_start, lock_end = (start, end) if end is not None and end > start else \
            (start - MOMENT_LOCK_MARGIN, start + MOMENT_LOCK_MARGIN)
        lock_id = create_lock(db, actor, camera_id, lock_start, lock_end, f"bookmark: {title}", client_ip).id
    row = BookmarkRow(camera_id=camera_id, start=start, end=end, title=title.strip()[:200], note=note,
                      lock_id=lock_id, created_by=actor.username[:64])
    with db.session() as session:
        session.add(row)
        session.flush()
    audit(db, actor, "bookmark.create", camera_id, _detail(row), client_ip)
    return row


def get_bookmark(db: Database, bookmark_id: int) -> BookmarkRow:
    with db.session() as session:
        row = session.get(BookmarkRow, bookmark_id)
    if row is None:
        raise BookmarkNotFound(f"bookmark {bookmark_id} does not exist")
    return row


def search_bookmarks(db: Database, camera_ids: set[str] | None, text: str = "", camera_id: str | None = None,
                     start: datetime | None = None, end: datetime | None = None, limit: int = 200) -> list[BookmarkRow]:
    """Bookmarks whose title or note contains ``text`` (any case), overlapping [start, end), newest first.

    ``camera_ids``: the cameras the caller may see (None: all)."""
    query = select(BookmarkRow).order_by(BookmarkRow.start.desc(), BookmarkRow.id.desc()).limit(limit)
    if text.strip():
        needle = text.strip().lower()
        query = query.where(or_(func.lower(BookmarkRow.title).contains(needle, autoescape=True),
                                func.lower(BookmarkRow.note).contains(needle, autoescape=True)))
    if camera_ids is not None:
        query = query.where(BookmarkRow.camera_id.in_(camera_ids))
    if camera_id is not None:
        query = query.where(BookmarkRow.camera_id == camera_id)
    if end is not None:
        query = query.where(BookmarkRow.start < end)
    if start is not None:
        query = query.where(or_(BookmarkRow.start >= start, BookmarkRow.end > start))
    with db.session() as session:
        return list(session.scalars(query))


def delete_bookmark(db: Database, actor: Actor, bookmark_id: int, client_ip: str = "") -> BookmarkRow:
    """Remove the bookmark; its evidence lock stays (releasing evidence is a separate, explicit act)."""
    with db.session() as session:
        row = session.get(BookmarkRow, bookmark_id)
        if row is None:
            raise BookmarkNotFound(f"bookmark {bookmark_id} does not exist")
        session.delete(row)
    audit(db, actor, "bookmark.delete", row.camera_id, _detail(row), client_ip)
    return row
