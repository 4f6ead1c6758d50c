"""Search in recordings: motion in a region of one camera over a time range, in the background.

Start a search (202), then poll it for progress and the moments found. A search is seen by whoever
started it and by admins. Operators search only as far back as they may play back.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from dashboard.api.deps import get_runtime
from dashboard.api.locks import aware
from dashboard.problems import Problem, coded
from dashboard.services import Services
from dashboard.security import Principal, client_ip, require, require_camera, security_config
from vms.auth.audit import audit
from vms.auth.roles import Capability, Role, playback_earliest
from vms.db.types import utcnow
from vms.recordings.motion_search import MotionSearch, Region, SearchNotFound

router = APIRouter(tags=["search"])


class RegionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    x: float = Field(ge=0, le=1, description="left edge, as a fraction of the picture width")
    y: float = Field(ge=0, le=1, description="top edge, as a fraction of the picture height")
    w: float = Field(gt=0, le=1)
    h: float = Field(gt=0, le=1)


class MotionSearchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: datetime
    end: datetime
    region: RegionIn
    sensitivity: float = Field(default=0.02, gt=0, le=1, description="share of the region that must change")


class MomentOut(BaseModel):
    start: datetime
    end: datetime
    peak: float


class MotionSearchOut(BaseModel):
    id: str
    camera_id: str
    start: datetime
    end: datetime
    region: RegionIn
    sensitivity: float
    state: str
    progress: float
    keyframes: int
    moments: list[MomentOut]
    error: str | None
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, search: MotionSearch) -> "MotionSearchOut":
        r = search.region
        return cls(id=search.id, camera_id=search.camera_id, start=search.start, end=search.end,
                   region=RegionIn(x=r.x, y=r.y, w=r.w, h=r.h), sensitivity=search.sensitivity, state=search.state,
                   progress=round(search.progress, 4), keyframes=search.keyframes,
                   moments=[MomentOut(start=m.start, end=m.end, peak=round(m.peak, 4)) for m in list(search.moments)],
                   error=search.error, created_at=search.created_at, finished_at=search.finished_at)


@router.post("/cameras/{camera_id}/motion-search", response_model=MotionSearchOut, status_code=202)
def start_motion_search(camera_id: str, body: MotionSearchIn, request: Request,
                        user: Principal = require_camera(Capability.PLAYBACK),
                        runtime: Services = Depends(get_runtime)) -> MotionSearchOut:
    aware(body.start, body.end)
    config = security_config(request)
    if (body.end - body.start).total_seconds() > config.max_range_hours * 3600:
        raise Problem(400, "range-too-long", f"one search covers at most {config.max_range_hours:g} hours",
                      params={"reason": "hours", "max": config.max_range_hours})
    start = body.start
    earliest = playback_earliest(user.role, config, utcnow())
    if earliest is not None:
        start = max(start, earliest)
    try:
        region = Region(body.region.x, body.region.y, body.region.w, body.region.h)
        search = runtime.searches.submit(camera_id, region, start, body.end, body.sensitivity, user.username)
    except ValueError as exc:
        raise coded(400, "bad-search", exc) from None
    audit(runtime.db, user, "search.motion", camera_id,
          {"search": search.id, "start": start, "end": body.end, "region": region.as_tuple()}, client_ip(request))
    return MotionSearchOut.of(search)


@router.get("/motion-searches/{search_id}", response_model=MotionSearchOut)
def motion_search(search_id: str, user: Principal = require(Capability.PLAYBACK),
                  runtime: Services = Depends(get_runtime)) -> MotionSearchOut:
    try:
        search = runtime.searches.get(search_id)
    except SearchNotFound:
        raise Problem(404, "search-not-found", "no such motion search") from None
    if search.requested_by != user.username and user.role != Role.ADMIN:
        raise Problem(404, "search-not-found", "no such motion search")
    return MotionSearchOut.of(search)
