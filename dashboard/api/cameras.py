"""Cameras: the registry with live health and storage, never with credentials.

Everyone sees the cameras of their groups; technicians and admins register, probe, edit,
disable and remove them, and see their (credential-free) stream URLs.
"""

from __future__ import annotations

import base64
from typing import Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dashboard.api.deps import get_runtime
from dashboard.api.responses import CameraOut, GroupOut, ProbeOut
from dashboard.problems import Problem, coded, field_errors
from dashboard.services import Services
from dashboard.security import Principal, client_ip, require, require_camera, security_config
from vms.auth.audit import audit
from vms.auth.roles import CAMERA_SCOPED, Capability
from vms.cameras.addresses import CameraAddressRefused, policy_of
from vms.cameras.registry import CameraExists, CameraNotFound, CameraRegistry
from vms.cameras.rtsp_url import InvalidCameraUrl, mask_credentials, split_credentials
from vms.config import CameraConfig
from vms.config.cameras import Location, RecordingSettings
from vms.db import CameraRow

router = APIRouter(tags=["cameras"])
MANAGE = Capability.CAMERA_MANAGE


class CameraIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(max_length=64)
    name: str = Field(max_length=200)
    group: str = Field(max_length=64)
    main_url: str = Field(max_length=2000)
    sub_url: str | None = Field(default=None, max_length=2000)
    username: str | None = Field(default=None, max_length=200)
    password: str | None = Field(default=None, max_length=200)
    location: Location | None = None  # the configuration's own models: one set of constraints
    recording: RecordingSettings | None = None
    enabled: bool = True
    transport: Literal["auto", "tcp", "udp"] = "auto"
    rtsp_client: Literal["ffmpeg", "builtin"] | None = None  # None: the global ingest.rtsp_client


class CameraChange(BaseModel):
    """Only the fields sent change. ``username``/``password`` null clears them."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=200)
    group: str | None = Field(default=None, max_length=64)
    main_url: str | None = Field(default=None, max_length=2000)
    sub_url: str | None = Field(default=None, max_length=2000)
    username: str | None = Field(default=None, max_length=200)
    password: str | None = Field(default=None, max_length=200)
    location: Location | None = None
    recording: RecordingSettings | None = None
    enabled: bool | None = None
    transport: Literal["auto", "tcp", "udp"] | None = None
    rtsp_client: Literal["ffmpeg", "builtin"] | None = None  # sent as null: back to the global choice


class ProbeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=2000)
    username: str | None = Field(default=None, max_length=200)
    password: str | None = Field(default=None, max_length=200)
    seconds: float = Field(default=4, ge=1, le=15)
    transport: Literal["auto", "tcp", "udp"] = "auto"


def _storage(runtime: Services) -> dict[str, dict]:
    return CameraRegistry(runtime.db).storage()


def _statuses(runtime: Services) -> dict[str, dict]:
    """``{camera_id: {stream: status}}`` from the status board (every worker's cameras, both modes)."""
    return runtime.board.cameras()


def _camera(row: CameraRow, user: Principal, statuses: dict, storage: dict) -> dict:
    data = {
        "id": row.id,
        "name": row.name,
        "group": row.group_id,
        "has_credentials": bool(row.username),
        "location": {"lat": row.lat, "lon": row.lon, "description": row.location_description},
        "enabled": row.enabled,
        "recording": {"enabled": row.recording_enabled, "segment_seconds": row.segment_seconds, "stream": row.record_stream},
        "source": row.source,
        "transport": row.transport,
        "rtsp_client": row.rtsp_client,
        "status": statuses.get(row.id, {}),
        "storage": storage.get(row.id, {"bytes": 0, "segments": 0, "oldest": None, "newest": None}),
        "capabilities": sorted(c.value for c in CAMERA_SCOPED if user.can(c, row.group_id)),
    }
    if user.can(MANAGE):
        # The addresses of the camera network are for the people who set it up.
        data["main_url"], data["sub_url"] = row.main_url, row.sub_url
    return data


def _config_of(row: CameraRow) -> dict:
    fields: dict = {
        "id": row.id, "name": row.name, "group": row.group_id, "main_url": row.main_url, "sub_url": row.sub_url,
        "enabled": row.enabled, "transport": row.transport or "auto", "rtsp_client": row.rtsp_client,
        "recording": {"enabled": row.recording_enabled, "segment_seconds": row.segment_seconds, "stream": row.record_stream},
    }
    if row.username:
        fields["credentials"] = {"username": row.username, "password": row.password or ""}
    if row.lat is not None and row.lon is not None:
        fields["location"] = {"lat": row.lat, "lon": row.lon, "description": row.location_description}
    return fields


def _split(fields: dict, body_fields: set[str], username: str | None, password: str | None) -> None:
    """Move credentials written into the URLs to the camera's username and password."""
    for key in ("main_url", "sub_url"):
        url = fields.get(key)
        if url:
            bare, url_user, url_password = split_credentials(url)
            fields[key] = bare
            if key == "main_url" and url_user and "username" not in body_fields:
                username, password = url_user, url_password
    if username:
        fields["credentials"] = {"username": username, "password": password or ""}
    else:
        fields.pop("credentials", None)


def _validated(fields: dict) -> CameraConfig:
    try:
        return CameraConfig(**fields)
    except ValidationError as exc:
        errors = field_errors(exc.errors())  # each with its code and parameters, worded by the UI
        raise Problem(422, "invalid-camera", "; ".join(f"{e['where']}: {e['problem']}" for e in errors), errors=errors) from None


def _group_exists(runtime: Services, group_id: str) -> None:
    known = [group.id for group in CameraRegistry(runtime.db).groups()]
    if group_id not in known:
        names = ", ".join(known)
        raise Problem(422, "unknown-group", f"group '{group_id}' does not exist (groups: {names})",
                      params={"group": group_id, "known": names})


def _check_addresses(request: Request, runtime: Services, *urls: str | None) -> None:
    """422 when a URL points where cameras may not be (security.camera_addresses)."""
    policy = policy_of(runtime.settings, security_config(request).camera_addresses)
    for url in urls:
        if not url:
            continue
        try:
            policy.check_url(url)
        except CameraAddressRefused as exc:
            raise coded(422, "camera-address-refused", exc) from None


def _owned_by_api(runtime: Services, camera_id: str) -> CameraRow:
    try:
        row = CameraRegistry(runtime.db).get(camera_id)
    except CameraNotFound as exc:
        raise Problem(404, "camera-not-found", str(exc)) from None
    if row.source == "config":
        raise Problem(409, "camera-in-config", f"camera '{camera_id}' is defined in the configuration file; change it there")
    return row


@router.get("/groups", response_model=list[GroupOut], response_model_exclude_unset=True)
def list_groups(user: Principal = require(Capability.CAMERA_VIEW), runtime: Services = Depends(get_runtime)) -> list[dict]:
    """Camera groups whose cameras you see."""
    rows = CameraRegistry(runtime.db).groups()
    return [{"id": g.id, "name": g.name, "retention_days": g.retention_days} for g in rows if user.access.sees(g.id)]


@router.get("/cameras", response_model=list[CameraOut], response_model_exclude_unset=True)
def list_cameras(user: Principal = require(Capability.CAMERA_VIEW), runtime: Services = Depends(get_runtime)) -> list[dict]:
    """The cameras you may see, with stream health (state, fps, bitrate, last packet) and storage used."""
    statuses, storage = _statuses(runtime), _storage(runtime)
    return [
        _camera(row, user, statuses, storage)
        for row in CameraRegistry(runtime.db).all()
        if user.access.sees(row.group_id)
    ]


@router.get("/cameras/{camera_id}", response_model=CameraOut, response_model_exclude_unset=True)
def get_camera(camera_id: str, user: Principal = require_camera(Capability.CAMERA_VIEW),
               runtime: Services = Depends(get_runtime)) -> dict:
    return _camera(CameraRegistry(runtime.db).get(camera_id), user, _statuses(runtime), _storage(runtime))


@router.post("/cameras", status_code=201, response_model=CameraOut, response_model_exclude_unset=True)
def add_camera(body: CameraIn, request: Request, user: Principal = require(MANAGE),
               runtime: Services = Depends(get_runtime)) -> dict:
    """Register a camera; running workers start recording it within seconds."""
    fields = body.model_dump(exclude={"username", "password"}, exclude_none=True)
    _split(fields, body.model_fields_set, body.username, body.password)
    camera = _validated(fields)
    _group_exists(runtime, camera.group)
    _check_addresses(request, runtime, camera.main_url, camera.sub_url)
    try:
        CameraRegistry(runtime.db).add(camera)
    except CameraExists as exc:
        raise Problem(409, "camera-exists", str(exc)) from None
    audit(runtime.db, user, "camera.add", camera.id,
          {"name": camera.name, "group": camera.group, "main_url": camera.main_url, "has_credentials": bool(camera.credentials)},
          client_ip(request))
    return _camera(CameraRegistry(runtime.db).get(camera.id), user, _statuses(runtime), _storage(runtime))


@router.post("/cameras/probe", response_model=ProbeOut, response_model_exclude_unset=True)
def probe_camera(body: ProbeIn, request: Request, user: Principal = require(MANAGE),
                 runtime: Services = Depends(get_runtime)) -> dict:
    """Connect to a camera and say what it sends, with a snapshot (base64 JPEG); nothing is saved."""
    bare, url_user, url_password = split_credentials(body.url)
    try:
        _check_addresses(request, runtime, bare)
    except Problem as refused:
        audit(runtime.db, user, "camera.probe.refused", bare, {"reason": refused.detail}, client_ip(request))
        raise
    username, password = body.username or url_user, body.password or url_password
    try:
        result = request.app.state.runtime.probe(bare, username, password, body.seconds, body.transport)
    except InvalidCameraUrl as exc:
        raise coded(422, "invalid-url", exc) from None
    answer = result.to_dict()
    if answer.get("error"):
        answer["error"] = mask_credentials(answer["error"], password, username)
        answer["error_params"] = {k: mask_credentials(v, password, username) if isinstance(v, str) else v
                                  for k, v in answer["error_params"].items()}
    answer["snapshot_jpeg_base64"] = base64.b64encode(result.snapshot_jpeg).decode() if result.snapshot_jpeg else None
    audit(request.app.state.runtime.db, user, "camera.probe", bare, {"ok": result.ok, "error": answer.get("error")},
          client_ip(request))
    return answer


@router.patch("/cameras/{camera_id}", response_model=CameraOut, response_model_exclude_unset=True)
def change_camera(camera_id: str, body: CameraChange, request: Request, user: Principal = require_camera(MANAGE),
                  runtime: Services = Depends(get_runtime)) -> dict:
    row = _owned_by_api(runtime, camera_id)
    sent = body.model_fields_set
    fields = _config_of(row)
    fields.update(body.model_dump(include=sent - {"username", "password"}, exclude_none=False))
    for key in ("location", "recording", "transport"):
        if key in fields and fields[key] is None:
            fields.pop(key)
    username = body.username if "username" in sent else row.username
    password = body.password if "password" in sent else row.password
    _split(fields, sent, username, password)
    camera = _validated(fields)
    _group_exists(runtime, camera.group)
    # Only an address that changes is checked: renaming a camera registered on the host (`vms camera
    # add`, where the policy does not apply) must not be refused for where it already is (a trial).
    _check_addresses(request, runtime, *(url for url, before in ((camera.main_url, row.main_url),
                                                                 (camera.sub_url, row.sub_url)) if url != before))
    CameraRegistry(runtime.db).update(camera_id, camera)
    changed = sorted(k for k in sent if k not in ("username", "password"))
    credentials = camera.credentials
    now_set = (credentials.username, credentials.password.get_secret_value() or None) if credentials else (None, None)
    credentials_changed = now_set != (row.username or None, (row.password or None) if row.username else None)
    audit(runtime.db, user, "camera.update", camera_id, {"fields": changed, "credentials_changed": credentials_changed},
          client_ip(request))
    return _camera(CameraRegistry(runtime.db).get(camera_id), user, _statuses(runtime), _storage(runtime))


def _set_enabled(runtime: Services, request: Request, user: Principal, camera_id: str, enabled: bool) -> dict:
    _owned_by_api(runtime, camera_id)
    CameraRegistry(runtime.db).set_enabled(camera_id, enabled)
    audit(runtime.db, user, "camera.enable" if enabled else "camera.disable", camera_id, {}, client_ip(request))
    return _camera(CameraRegistry(runtime.db).get(camera_id), user, _statuses(runtime), _storage(runtime))


@router.post("/cameras/{camera_id}/disable", response_model=CameraOut, response_model_exclude_unset=True)
def disable_camera(camera_id: str, request: Request, user: Principal = require_camera(MANAGE),
                   runtime: Services = Depends(get_runtime)) -> dict:
    """Stop pulling and recording the camera (its recordings stay)."""
    return _set_enabled(runtime, request, user, camera_id, False)


@router.post("/cameras/{camera_id}/enable", response_model=CameraOut, response_model_exclude_unset=True)
def enable_camera(camera_id: str, request: Request, user: Principal = require_camera(MANAGE),
                  runtime: Services = Depends(get_runtime)) -> dict:
    return _set_enabled(runtime, request, user, camera_id, True)


@router.delete("/cameras/{camera_id}", status_code=204)
def remove_camera(camera_id: str, request: Request, user: Principal = require_camera(MANAGE),
                  runtime: Services = Depends(get_runtime)) -> Response:
    """Forget the camera; its recordings stay until retention removes them."""
    _owned_by_api(runtime, camera_id)
    CameraRegistry(runtime.db).remove(camera_id)
    audit(runtime.db, user, "camera.remove", camera_id, {}, client_ip(request))
    return Response(status_code=204)
