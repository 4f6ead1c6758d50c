"""Evidence exports: request one (202), follow its progress, download the MP4 and its manifest.

An export is seen by the person who asked for it and by admins; to anyone else it does not exist.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from dashboard.api.deps import get_runtime
from dashboard.api.responses import ExportOut
from dashboard.problems import Problem
from dashboard.services import Services
from dashboard.security import Principal, check_camera, client_ip, require, security_config
from vms.auth.audit import audit
from vms.auth.roles import Capability, Role
from vms.db.exports import ExportRow
from vms.metrics import EXPORTS
from vms.evidence.package import SIGNATURE_NAME, stream_zip
from vms.recordings.export import MANIFEST_NAME, ExportNotFound, get_export, list_exports, request_export

router = APIRouter(tags=["exports"])
EXPORTER = require(Capability.EXPORT)


class ExportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camera_id: str = Field(max_length=64)
    start: datetime
    end: datetime
    reason: str = Field(default="", max_length=2000, description="case number or why the evidence is needed")


def _describe(row: ExportRow) -> dict:
    base = f"/api/exports/{row.id}"
    done = row.state == "done"
    return {
        "id": row.id,
        "camera_id": row.camera_id,
        "start": row.start.isoformat(),
        "end": row.end.isoformat(),
        "requested_by": row.requested_by,
        "reason": row.reason,
        "state": row.state,
        "percent": row.percent,
        "error": row.error,
        "error_code": row.error_code,
        "error_params": row.error_params or {},
        "file_name": row.file_name,
        "bytes": row.bytes,
        "sha256": row.sha256,
        "first_frame": row.first_frame.isoformat() if row.first_frame else None,
        "last_frame": row.last_frame.isoformat() if row.last_frame else None,
        "created_at": row.created_at.isoformat(),
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        "file_url": f"{base}/file" if done else None,
        "manifest_url": f"{base}/manifest" if done else None,
        "package_url": f"{base}/package" if done else None,
    }


def _own_export(export_id: str, user: Principal, runtime: Services) -> ExportRow:
    try:
        row = get_export(runtime.db, export_id)
    except ExportNotFound:
        raise Problem(404, "export-not-found", "no such export") from None
    if row.requested_by != user.username and user.role != Role.ADMIN:
        raise Problem(404, "export-not-found", "no such export")
    return row


def _file(row: ExportRow, name: str | None) -> Path:
    """A file of a finished export, refusing anything outside the export's folder."""
    if row.state != "done" or not name:
        raise Problem(409, "export-not-ready", f"the export is {row.state}")
    folder = Path(row.folder).resolve()
    path = (folder / name).resolve()
    if Path(name).name != name or path.parent != folder or not path.is_file():
        raise Problem(404, "export-file-missing", "the export's file is missing")
    return path


@router.post("/exports", status_code=202, response_model=ExportOut, response_model_exclude_unset=True)
def create_export(body: ExportIn, request: Request, user: Principal = EXPORTER,
                  runtime: Services = Depends(get_runtime)) -> dict:
    """Queue an export of one camera's range; poll ``GET /api/exports/{id}`` for progress."""
    check_camera(request, user, body.camera_id, Capability.EXPORT)
    if body.start.tzinfo is None or body.end.tzinfo is None:
        raise Problem(400, "naive-time", "start and end need a time zone, e.g. 2026-05-01T08:00:00+07:00")
    config = security_config(request)
    if body.end <= body.start:
        raise Problem(400, "bad-range", "end must be after start")
    if body.end - body.start > timedelta(hours=config.max_range_hours):
        raise Problem(400, "range-too-long", f"one export covers at most {config.max_range_hours:g} hours",
                      params={"reason": "hours", "max": config.max_range_hours})
    exports_root = runtime.settings.data_dir / config.exports_dir
    row = request_export(runtime.db, exports_root, body.camera_id, body.start, body.end, user.username,
                         client_ip(request), body.reason)
    EXPORTS.inc()
    audit(runtime.db, user, "export.request", body.camera_id,
          {"export": row.id, "start": body.start, "end": body.end, "reason": body.reason}, client_ip(request))
    request.app.state.exports.submit(row.id, user.role.value)
    return _describe(row)


@router.get("/exports", response_model=list[ExportOut], response_model_exclude_unset=True)
def exports(user: Principal = EXPORTER, runtime: Services = Depends(get_runtime)) -> list[dict]:
    """Your exports, newest first (admins: everyone's)."""
    rows = list_exports(runtime.db, None if user.role == Role.ADMIN else user.username)
    return [_describe(r) for r in rows]


@router.get("/exports/{export_id}", response_model=ExportOut, response_model_exclude_unset=True)
def export_status(export_id: str, user: Principal = EXPORTER, runtime: Services = Depends(get_runtime)) -> dict:
    return _describe(_own_export(export_id, user, runtime))


@router.get("/exports/{export_id}/file", response_class=FileResponse, responses={200: {"content": {"video/mp4": {}}, "description": "MP4 video"}})
def export_file(export_id: str, request: Request, user: Principal = EXPORTER,
                runtime: Services = Depends(get_runtime)) -> FileResponse:
    """The MP4 (HTTP Range supported)."""
    row = _own_export(export_id, user, runtime)
    path = _file(row, row.file_name)
    if request.headers.get("range") is None:  # one entry per download, not per seek
        audit(runtime.db, user, "export.download", row.camera_id, {"export": row.id, "sha256": row.sha256},
              client_ip(request))
    return FileResponse(path, media_type="video/mp4", filename=row.file_name, headers={"Cache-Control": "no-store"})


@router.get("/exports/{export_id}/manifest", response_class=FileResponse, responses={200: {"content": {"application/json": {"schema": {"type": "object", "description": "the signed export manifest (docs/api.md)"}}}, "description": "the manifest"}})
def export_manifest(export_id: str, user: Principal = EXPORTER, runtime: Services = Depends(get_runtime)) -> FileResponse:
    """The JSON manifest: camera, ranges, who, when, segments, SHA-256 of the MP4, tool versions."""
    row = _own_export(export_id, user, runtime)
    return FileResponse(_file(row, MANIFEST_NAME), media_type="application/json",
                        filename=f"{row.id}-{MANIFEST_NAME}", headers={"Cache-Control": "no-store"})


@router.get("/exports/{export_id}/package", response_class=StreamingResponse,
            responses={200: {"content": {"application/zip": {}}, "description": "zip of the MP4, manifest and signature"}})
def export_package(export_id: str, request: Request, user: Principal = EXPORTER,
                   runtime: Services = Depends(get_runtime)) -> StreamingResponse:
    """The MP4, manifest.json and manifest.sig in one zip: what `vms verify` checks offline."""
    row = _own_export(export_id, user, runtime)
    _file(row, SIGNATURE_NAME)  # 409 until done, 404 when the files are gone
    audit(runtime.db, user, "export.download", row.camera_id, {"export": row.id, "sha256": row.sha256, "package": True},
          client_ip(request))
    return StreamingResponse(stream_zip(Path(row.folder)), media_type="application/zip", headers={
        "Cache-Control": "no-store", "Content-Disposition": f'attachment; filename="export-{row.id}.zip"'})
