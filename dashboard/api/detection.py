"""A camera's detection settings (zones, masks, directions, thresholds): read and replace.

Settings put here are stored in the database and win over the YAML file until deleted;
the worker owning the camera restarts its detection when they change.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from dashboard.api.deps import get_runtime
from dashboard.api.responses import DetectionOut
from dashboard.services import Services
from dashboard.security import Principal, client_ip, require_camera
from vms.auth.audit import audit
from vms.auth.roles import Capability
from vms.config.detection import CameraDetection
from vms.events.configs import DetectionSettings

router = APIRouter(tags=["detection"])

VIEW = require_camera(Capability.CAMERA_VIEW)
MANAGE = require_camera(Capability.CAMERA_MANAGE)


def get_detection_settings(runtime: Services = Depends(get_runtime)) -> DetectionSettings:
    return DetectionSettings(runtime.db, runtime.settings.detection, runtime.bus)


def _describe(camera_id: str, settings: DetectionSettings) -> dict:
    override = settings.override(camera_id)
    if override is not None:
        source, config = "api", override
    elif camera_id in settings.base.cameras:
        source, config = "config", settings.base.cameras[camera_id]
    elif settings.base.default is not None:
        source, config = "default", settings.base.default
    else:
        source, config = "none", None
    return {
        "camera_id": camera_id,
        "source": source,  # where the settings come from: api, config (YAML), default, none
        "active": settings.effective(camera_id) is not None,
        "config": config.model_dump(mode="json") if config is not None else None,
    }


@router.get("/cameras/{camera_id}/detection", response_model=DetectionOut, response_model_exclude_unset=True)
def get_detection(camera_id: str, user: Principal = VIEW,
                  settings: DetectionSettings = Depends(get_detection_settings)) -> dict:
    return _describe(camera_id, settings)


@router.put("/cameras/{camera_id}/detection", response_model=DetectionOut, response_model_exclude_unset=True)
def put_detection(camera_id: str, config: CameraDetection, request: Request, user: Principal = MANAGE,
                  settings: DetectionSettings = Depends(get_detection_settings),
                  runtime: Services = Depends(get_runtime)) -> dict:
    """Replace the camera's detection settings (validated: polygons, directions, thresholds)."""
    settings.replace(camera_id, config, by=user.username)
    audit(runtime.db, user, "detection.update", camera_id,
          {"zones": [zone.id for zone in config.zones], "masks": len(config.masks)}, client_ip(request))
    return _describe(camera_id, settings)


@router.delete("/cameras/{camera_id}/detection", response_model=DetectionOut, response_model_exclude_unset=True)
def reset_detection(camera_id: str, request: Request, user: Principal = MANAGE,
                    settings: DetectionSettings = Depends(get_detection_settings),
                    runtime: Services = Depends(get_runtime)) -> dict:
    """Drop the settings put through the API; the YAML file's apply again."""
    settings.reset(camera_id)
    audit(runtime.db, user, "detection.reset", camera_id, {}, client_ip(request))
    return _describe(camera_id, settings)
