"""Cases: clips of several cameras, bookmarks and notes under one case number, with a chain of custody.

The chain of custody is the audit log's entries whose target is the case (``case_target``):
created, viewed, changed, exported, downloaded, by whom and when. The audit log is append-only
(the database refuses changes), which is what makes it a chain of custody.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from vms.auth.audit import Actor, AuditQuery, audit, query_audit
from vms.db import Database
from vms.db.auth import AuditEntry
from vms.db.evidence import BookmarkRow, CaseExportRow, CaseItemRow, CaseRow


class CaseNotFound(LookupError):
    pass


class CaseExists(ValueError):
    pass


@dataclass
class Case:
    row: CaseRow
    items: list[CaseItemRow] = field(default_factory=list)
    bookmarks: dict[int, BookmarkRow] = field(default_factory=dict)  # by id, for the bookmark items

    @property
    def clips(self) -> list[CaseItemRow]:
        return [i for i in self.items if i.kind == "clip"]

    @property
    def camera_ids(self) -> set[str]:
        return {i.camera_id for i in self.items if i.camera_id}


def case_target(case_id: int) -> str:
    return f"case/{case_id}"


def create_case(db: Database, actor: Actor, number: str, title: str, description: str = "",
                client_ip: str = "") -> CaseRow:
    """A new case; ``CaseExists`` when the number is taken, ValueError when it is blank."""
    if not number.strip() or not title.strip():
        raise ValueError("a case needs a number and a title")
    row = CaseRow(number=number.strip()[:64], title=title.strip()[:200], description=description,
                  created_by=actor.username[:64])
    try:
        with db.session() as session:
            session.add(row)
            session.flush()
    except IntegrityError:
        raise CaseExists(f"case number '{number}' already exists") from None
    audit(db, actor, "case.create", case_target(row.id), {"number": row.number, "title": row.title}, client_ip)
    return row


def list_cases(db: Database, limit: int = 200) -> list[CaseRow]:
    with db.session() as session:
        return list(session.scalars(select(CaseRow).order_by(CaseRow.created_at.desc()).limit(limit)))


def load_case(db: Database, case_id: int) -> Case:
    with db.session() as session:
        row = session.get(CaseRow, case_id)
        if row is None:
            raise CaseNotFound(f"case {case_id} does not exist")
        items = list(session.scalars(select(CaseItemRow).where(CaseItemRow.case_id == case_id)
                                     .order_by(CaseItemRow.id)))
        ids = [i.bookmark_id for i in items if i.bookmark_id is not None]
        bookmarks = {b.id: b for b in session.scalars(select(BookmarkRow).where(BookmarkRow.id.in_(ids)))} if ids else {}
    return Case(row, items, bookmarks)


# A view by the user (and address) whose access is the case's latest custody entry, less than this
# long after it, is the same access continued (the screen reloading after their own change, a
# refresh) and gets no row of its own: a court reads each row as one distinct access.
VIEW_QUIET_SECONDS = 300


def _same_access(db: Database, actor: Actor, case_id: int, client_ip: str, now: datetime) -> bool:
    """True when the case's latest custody entry is ``actor``'s, from ``client_ip``, under
    ``VIEW_QUIET_SECONDS`` before ``now`` (UTC)."""
    latest = query_audit(db, AuditQuery(target=case_target(case_id), limit=1))
    if not latest:
        return False
    entry = latest[0]
    at = entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=timezone.utc)
    return (entry.username == actor.username and entry.client_ip == (client_ip or "")[:64]
            and 0 <= (now - at).total_seconds() < VIEW_QUIET_SECONDS)


def view_case(db: Database, actor: Actor, case_id: int, client_ip: str = "",
              now: datetime | None = None) -> Case:
    """The case, its viewing written to the chain of custody, unless it continues the same user's
    access from the same address (see ``VIEW_QUIET_SECONDS``); any other user's entry in between
    makes the next view a distinct access again. ``now`` (UTC) is for tests."""
    case = load_case(db, case_id)
    if not _same_access(db, actor, case_id, client_ip, now or datetime.now(timezone.utc)):
        audit(db, actor, "case.view", case_target(case_id), {"number": case.row.number}, client_ip)
    return case


def _add(db: Database, actor: Actor, item: CaseItemRow, client_ip: str, detail: dict[str, Any]) -> CaseItemRow:
    case = load_case(db, item.case_id)
    item.added_by = actor.username[:64]
    with db.session() as session:
        session.add(item)
        session.flush()
    audit(db, actor, f"case.add_{item.kind}", case_target(item.case_id),
          {"number": case.row.number, "item": item.id, **detail}, client_ip)
    return item


def add_clip(db: Database, actor: Actor, case_id: int, camera_id: str, start: datetime, end: datetime,
             text: str = "", client_ip: str = "") -> CaseItemRow:
    if end <= start:
        raise ValueError("a clip must end after it starts")
    item = CaseItemRow(case_id=case_id, kind="clip", camera_id=camera_id, start=start, end=end, text=text)
    return _add(db, actor, item, client_ip, {"camera": camera_id, "start": start, "end": end})


def add_bookmark(db: Database, actor: Actor, case_id: int, bookmark: BookmarkRow, client_ip: str = "") -> CaseItemRow:
    item = CaseItemRow(case_id=case_id, kind="bookmark", camera_id=bookmark.camera_id, start=bookmark.start,
                       end=bookmark.end, bookmark_id=bookmark.id, text=bookmark.title)
    return _add(db, actor, item, client_ip, {"bookmark": bookmark.id})


def add_note(db: Database, actor: Actor, case_id: int, text: str, client_ip: str = "") -> CaseItemRow:
    if not text.strip():
        raise ValueError("a note needs text")
    return _add(db, actor, CaseItemRow(case_id=case_id, kind="note", text=text), client_ip, {})


def custody(db: Database, case_id: int) -> list[AuditEntry]:
    """The case's chain of custody, oldest first."""
    entries = query_audit(db, AuditQuery(target=case_target(case_id), limit=10_000))
    return sorted(entries, key=lambda e: (e.at, e.id))


def list_case_exports(db: Database, case_id: int) -> list[CaseExportRow]:
    with db.session() as session:
        return list(session.scalars(select(CaseExportRow).where(CaseExportRow.case_id == case_id)
                                    .order_by(CaseExportRow.created_at.desc())))
