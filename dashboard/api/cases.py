"""Cases: create, add clips/bookmarks/notes, view (audited), chain of custody, export as one signed package.

Investigators and admins (the export right). A case's clips may only be added, and the case
exported, by someone who may export every camera involved.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from dashboard.api.deps import get_runtime
from dashboard.api.locks import aware
from dashboard.problems import Problem
from dashboard.services import Services
from dashboard.security import Principal, check_camera, client_ip, require, security_config
from vms.auth.audit import audit
from vms.auth.roles import Capability
from vms.db.evidence import CaseExportRow, CaseItemRow, CaseRow
from vms.evidence import cases as domain
from vms.evidence.bookmarks import BookmarkNotFound, get_bookmark
from vms.evidence.case_export import (
    CaseExportNotFound, get_case_export, request_case_export, run_case_export,
)
from vms.evidence.package import stream_zip

router = APIRouter(tags=["cases"])
INVESTIGATOR = require(Capability.EXPORT)


class CaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str = Field(min_length=1, max_length=64, description="the case number, e.g. the police file number")
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=10000)


class ClipIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camera_id: str = Field(max_length=64)
    start: datetime
    end: datetime
    note: str = Field(default="", max_length=2000)


class BookmarkRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bookmark_id: int


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=10000)


class CaseOut(BaseModel):
    id: int
    number: str
    title: str
    description: str
    created_by: str
    created_at: datetime

    @classmethod
    def of(cls, row: CaseRow) -> "CaseOut":
        return cls(id=row.id, number=row.number, title=row.title, description=row.description,
                   created_by=row.created_by, created_at=row.created_at)


class ItemOut(BaseModel):
    id: int
    kind: str  # clip, bookmark, note
    camera_id: str | None
    start: datetime | None
    end: datetime | None
    bookmark_id: int | None
    text: str
    added_by: str
    added_at: datetime

    @classmethod
    def of(cls, row: CaseItemRow) -> "ItemOut":
        return cls(id=row.id, kind=row.kind, camera_id=row.camera_id, start=row.start, end=row.end,
                   bookmark_id=row.bookmark_id, text=row.text, added_by=row.added_by, added_at=row.added_at)


class CaseExportOut(BaseModel):
    id: str
    case_id: int
    state: str
    percent: float
    error: str | None
    error_code: str | None = None  # why it failed, as a code (vms.recordings.export_failure)
    error_params: dict[str, Any] = Field(default_factory=dict)
    requested_by: str
    created_at: datetime
    finished_at: datetime | None
    package_url: str | None  # a zip of the package folder, when done

    @classmethod
    def of(cls, row: CaseExportRow) -> "CaseExportOut":
        url = f"/api/cases/{row.case_id}/exports/{row.id}/package" if row.state == "done" else None
        return cls(id=row.id, case_id=row.case_id, state=row.state, percent=row.percent, error=row.error,
                   error_code=row.error_code, error_params=row.error_params or {},
                   requested_by=row.requested_by, created_at=row.created_at, finished_at=row.finished_at,
                   package_url=url)


class CaseDetail(CaseOut):
    items: list[ItemOut]
    exports: list[CaseExportOut]


class CustodyOut(BaseModel):
    at: datetime
    username: str
    role: str
    action: str
    client_ip: str
    detail: dict


def _case(runtime: Services, case_id: int) -> domain.Case:
    try:
        return domain.load_case(runtime.db, case_id)
    except domain.CaseNotFound:
        raise Problem(404, "case-not-found", f"case {case_id} does not exist") from None


@router.post("/cases", response_model=CaseOut, status_code=201)
def create(body: CaseIn, request: Request, user: Principal = INVESTIGATOR,
           runtime: Services = Depends(get_runtime)) -> CaseOut:
    try:
        return CaseOut.of(domain.create_case(runtime.db, user, body.number, body.title, body.description,
                                             client_ip(request)))
    except domain.CaseExists as exc:
        raise Problem(409, "case-exists", str(exc)) from None
    except ValueError as exc:
        raise Problem(400, "bad-case", str(exc)) from None


@router.get("/cases", response_model=list[CaseOut])
def cases(user: Principal = INVESTIGATOR, runtime: Services = Depends(get_runtime)) -> list[CaseOut]:
    return [CaseOut.of(row) for row in domain.list_cases(runtime.db)]


@router.get("/cases/{case_id}", response_model=CaseDetail)
def case(case_id: int, request: Request, user: Principal = INVESTIGATOR,
         runtime: Services = Depends(get_runtime)) -> CaseDetail:
    """The case with its items and packages; the viewing enters the chain of custody."""
    _case(runtime, case_id)
    found = domain.view_case(runtime.db, user, case_id, client_ip(request))
    return CaseDetail(**CaseOut.of(found.row).model_dump(), items=[ItemOut.of(i) for i in found.items],
                      exports=[CaseExportOut.of(e) for e in domain.list_case_exports(runtime.db, case_id)])


@router.post("/cases/{case_id}/clips", response_model=ItemOut, status_code=201)
def add_clip(case_id: int, body: ClipIn, request: Request, user: Principal = INVESTIGATOR,
             runtime: Services = Depends(get_runtime)) -> ItemOut:
    _case(runtime, case_id)
    check_camera(request, user, body.camera_id, Capability.EXPORT)
    aware(body.start, body.end)
    config = security_config(request)
    if (body.end - body.start).total_seconds() > config.max_range_hours * 3600:
        raise Problem(400, "range-too-long", f"one clip covers at most {config.max_range_hours:g} hours",
                      params={"reason": "hours", "max": config.max_range_hours})
    try:
        return ItemOut.of(domain.add_clip(runtime.db, user, case_id, body.camera_id, body.start, body.end, body.note,
                                          client_ip(request)))
    except ValueError as exc:
        raise Problem(400, "bad-range", str(exc)) from None


@router.post("/cases/{case_id}/bookmarks", response_model=ItemOut, status_code=201)
def add_bookmark(case_id: int, body: BookmarkRef, request: Request, user: Principal = INVESTIGATOR,
                 runtime: Services = Depends(get_runtime)) -> ItemOut:
    _case(runtime, case_id)
    try:
        bookmark = get_bookmark(runtime.db, body.bookmark_id)
    except BookmarkNotFound:
        raise Problem(404, "bookmark-not-found", f"bookmark {body.bookmark_id} does not exist") from None
    check_camera(request, user, bookmark.camera_id, Capability.EXPORT)
    return ItemOut.of(domain.add_bookmark(runtime.db, user, case_id, bookmark, client_ip(request)))


@router.post("/cases/{case_id}/notes", response_model=ItemOut, status_code=201)
def add_note(case_id: int, body: NoteIn, request: Request, user: Principal = INVESTIGATOR,
             runtime: Services = Depends(get_runtime)) -> ItemOut:
    _case(runtime, case_id)
    try:
        return ItemOut.of(domain.add_note(runtime.db, user, case_id, body.text, client_ip(request)))
    except ValueError as exc:
        raise Problem(400, "bad-note", str(exc)) from None


@router.get("/cases/{case_id}/custody", response_model=list[CustodyOut])
def chain_of_custody(case_id: int, user: Principal = INVESTIGATOR,
                     runtime: Services = Depends(get_runtime)) -> list[CustodyOut]:
    """Who created, viewed, changed, exported and downloaded the case, and when (oldest first)."""
    _case(runtime, case_id)
    return [CustodyOut(at=e.at, username=e.username, role=e.role, action=e.action, client_ip=e.client_ip,
                       detail=e.detail or {}) for e in domain.custody(runtime.db, case_id)]


@router.post("/cases/{case_id}/exports", response_model=CaseExportOut, status_code=202)
def export_case(case_id: int, request: Request, user: Principal = INVESTIGATOR,
                runtime: Services = Depends(get_runtime)) -> CaseExportOut:
    """Package every clip of the case; poll the returned export for progress."""
    found = _case(runtime, case_id)
    if not found.clips:
        raise Problem(409, "case-has-no-clips", "add at least one clip before exporting the case")
    for camera_id in {c.camera_id for c in found.clips}:
        check_camera(request, user, camera_id, Capability.EXPORT)
    root = runtime.settings.data_dir / security_config(request).exports_dir / "cases"
    row = request_case_export(runtime.db, root, case_id, user.username, client_ip(request))
    audit(runtime.db, user, "case.export_request", domain.case_target(case_id),
          {"number": found.row.number, "package": row.id}, client_ip(request))
    exports = request.app.state.exports
    exports.run(run_case_export, runtime.db, runtime.files, row.id, exports.key, user.role.value)
    return CaseExportOut.of(row)


def _own_export(runtime: Services, case_id: int, export_id: str) -> CaseExportRow:
    try:
        return get_case_export(runtime.db, case_id, export_id)
    except CaseExportNotFound:
        raise Problem(404, "case-export-not-found", "no such case package") from None


@router.get("/cases/{case_id}/exports/{case_export_id}", response_model=CaseExportOut)
def case_export_status(case_id: int, case_export_id: str, user: Principal = INVESTIGATOR,
                       runtime: Services = Depends(get_runtime)) -> CaseExportOut:
    return CaseExportOut.of(_own_export(runtime, case_id, case_export_id))


@router.get("/cases/{case_id}/exports/{case_export_id}/package", response_class=StreamingResponse,
            responses={200: {"content": {"application/zip": {}}, "description": "zip of the case package"}})
def case_package(case_id: int, case_export_id: str, request: Request, user: Principal = INVESTIGATOR,
                 runtime: Services = Depends(get_runtime)) -> StreamingResponse:
    """The package as a zip: clips, manifest.json, manifest.sig and the offline player."""
    row = _own_export(runtime, case_id, case_export_id)
    folder = Path(row.folder)
    if row.state != "done" or not (folder / "manifest.json").is_file():
        raise Problem(409, "case-export-not-ready", f"the package is {row.state}")
    audit(runtime.db, user, "case.download", domain.case_target(case_id), {"package": row.id}, client_ip(request))
    return StreamingResponse(stream_zip(folder), media_type="application/zip", headers={
        "Cache-Control": "no-store", "Content-Disposition": f'attachment; filename="case-{case_id}-{row.id}.zip"'})
