"""Cameras: the registry with live health, never with credentials."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from dashboard.api.deps import get_runtime
from dashboard.runtime import Runtime
from vms.cameras.registry import CameraRegistry

router = APIRouter(tags=["cameras"])


@router.get("/cameras")
def list_cameras(runtime: Runtime = Depends(get_runtime)) -> list[dict]:
    statuses = {}
    if runtime.worker is not None:
        for status in runtime.worker.statuses():
            statuses.setdefault(status.camera_id, {})[status.stream] = status.to_message()
    return [
        {
            "id": row.id,
            "name": row.name,
            "group": row.group_id,
            "main_url": row.main_url,
            "sub_url": row.sub_url,
            "has_credentials": bool(row.username),
            "location": {"lat": row.lat, "lon": row.lon, "description": row.location_description},
            "enabled": row.enabled,
            "recording": {"enabled": row.recording_enabled, "segment_seconds": row.segment_seconds},
            "status": statuses.get(row.id, {}),
        }
        for row in CameraRegistry(runtime.db).all()
    ]
