"""Bookmarks: create (optionally locking the range), search, delete; audited."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from dashboard.api.access import cameras_with
from dashboard.api.deps import get_runtime
from dashboard.api.locks import aware
from dashboard.problems import Problem, coded
from dashboard.services import Services
from dashboard.security import Principal, check_camera, client_ip, require
from vms.auth.roles import Capability, Role
from vms.db.evidence import BookmarkRow
from vms.evidence.bookmarks import BookmarkNotFound, create_bookmark, delete_bookmark, get_bookmark, search_bookmarks

router = APIRouter(tags=["evidence"])
BOOKMARKER = require(Capability.PLAYBACK)


class BookmarkOut(BaseModel):
    id: int
    camera_id: str
    start: datetime
    end: datetime | None  # None: a moment
    title: str
    note: str
    lock_id: int | None
    created_by: str
    created_at: datetime

    @classmethod
    def of(cls, row: BookmarkRow) -> "BookmarkOut":
        return cls(id=row.id, camera_id=row.camera_id, start=row.start, end=row.end, title=row.title, note=row.note,
                   lock_id=row.lock_id, created_by=row.created_by, created_at=row.created_at)


class BookmarkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camera_id: str = Field(max_length=64)
    start: datetime
    end: datetime | None = None
    title: str = Field(min_length=1, max_length=200)
    note: str = Field(default="", max_length=10000)
    lock: bool = Field(default=False, description="protect the range from retention (needs the export right)")


@router.post("/bookmarks", response_model=BookmarkOut, status_code=201)
def bookmark(body: BookmarkIn, request: Request, user: Principal = BOOKMARKER,
             runtime: Services = Depends(get_runtime)) -> BookmarkOut:
    check_camera(request, user, body.camera_id, Capability.EXPORT if body.lock else Capability.PLAYBACK)
    aware(body.start, body.end)
    try:
        row = create_bookmark(runtime.db, user, body.camera_id, body.start, body.end, body.title, body.note,
                              body.lock, client_ip(request))
    except ValueError as exc:
        raise coded(400, "bad-bookmark", exc) from None
    return BookmarkOut.of(row)


@router.get("/bookmarks", response_model=list[BookmarkOut])
def bookmarks(q: str = Query("", max_length=200, description="words in the title or note"),
              camera_id: str | None = None, start: datetime | None = None, end: datetime | None = None,
              user: Principal = BOOKMARKER, runtime: Services = Depends(get_runtime)) -> list[BookmarkOut]:
    """Bookmarks on cameras you may play back, newest first."""
    aware(start, end)
    visible = cameras_with(runtime.db, user, Capability.PLAYBACK)
    return [BookmarkOut.of(r) for r in search_bookmarks(runtime.db, visible, q, camera_id, start, end)]


@router.delete("/bookmarks/{bookmark_id}", response_model=BookmarkOut)
def remove(bookmark_id: int, request: Request, user: Principal = BOOKMARKER,
           runtime: Services = Depends(get_runtime)) -> BookmarkOut:
    """Delete your own bookmark (admins: anyone's). Its evidence lock stays until released."""
    try:
        row = get_bookmark(runtime.db, bookmark_id)
    except BookmarkNotFound:
        raise Problem(404, "bookmark-not-found", f"bookmark {bookmark_id} does not exist") from None
    check_camera(request, user, row.camera_id, Capability.PLAYBACK)
    if row.created_by != user.username and user.role != Role.ADMIN:
        raise Problem(403, "not-yours", "only who made a bookmark, or an admin, may delete it")
    return BookmarkOut.of(delete_bookmark(runtime.db, user, bookmark_id, client_ip(request)))
