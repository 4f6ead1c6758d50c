"""A camera's detection settings (zones, masks, directions, thresholds): read and replace.

Settings put here are stored in the database and win over the YAML file until deleted;
the worker owning the camera restarts its detection when they change.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from dashboard.api.deps import get_runtime
from dashboard.api.responses import DetectionOut
from dashboard.problems import Problem
from dashboard.services import Services
from dashboard.security import Principal, client_ip, require_camera
from vms.auth.audit import audit
from vms.auth.roles import Capability
from vms.config.detection import CameraDetection
from vms.events.configs import DetectionSettings, ModelNotAllowed

router = APIRouter(tags=["detection"])

VIEW = require_camera(Capability.CAMERA_VIEW)
MANAGE = require_camera(Capability.CAMERA_MANAGE)


def get_detection_settings(runtime: Services = Depends(get_runtime)) -> DetectionSettings:
    return DetectionSettings(runtime.db, runtime.settings.detection, runtime.bus, runtime.settings.models_dir)


def _describe(camera_id: str, settings: DetectionSettings) -> dict:
    override = settings.stored(camera_id)  # model names as given, not the server's file paths
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
    """Replace the camera's detection settings (validated: polygons, directions, thresholds; an
    object model is named by its file in the models folder). Audited with before and after."""
    before = _describe(camera_id, settings)
    try:
        settings.replace(camera_id, config, by=user.username)
    except ModelNotAllowed as exc:
        raise Problem(422, "model-not-allowed", str(exc), params=exc.problem_params()) from None
    after = _describe(camera_id, settings)
    audit(runtime.db, user, "detection.update", camera_id,
          {"zones": [zone.id for zone in config.zones], "masks": len(config.masks), "before": before, "after": after},
          client_ip(request))
    return after


@router.delete("/cameras/{camera_id}/detection", response_model=DetectionOut, response_model_exclude_unset=True)
def reset_detection(camera_id: str, request: Request, user: Principal = MANAGE,
                    settings: DetectionSettings = Depends(get_detection_settings),
                    runtime: Services = Depends(get_runtime)) -> dict:
    """Drop the settings put through the API; the YAML file's apply again. Audited with before and after."""
    before = _describe(camera_id, settings)
    settings.reset(camera_id)
    after = _describe(camera_id, settings)
    audit(runtime.db, user, "detection.reset", camera_id, {"before": before, "after": after}, client_ip(request))
    return after
