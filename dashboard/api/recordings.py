"""Playback: a camera's recorded timeline, and any range of it as an MP4 made on the fly.

``playback.mp4`` is a remux (never re-encoded) streamed as it is made, starting at the
keyframe at or before ``start``. Its headers say how media time maps to the wall clock:
``X-Playback-Start`` is the UTC time at media time 0 and ``X-Playback-Offset`` the seconds
into the file where ``start`` is; the player seeks there (one frame of precision).
"""

from __future__ import annotations

from time import monotonic
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse

from dashboard.api.deps import get_runtime
from dashboard.api.responses import TimelineOut
from dashboard.problems import Problem
from dashboard.services import Services
from dashboard.security import Principal, client_ip, require_camera, security_config
from vms.auth.audit import audit
from vms.auth.roles import Capability, playback_earliest
from vms.db.types import utcnow
from vms.metrics import PLAYBACKS
from vms.recordings.playback import NothingRecorded, UnsafePath, plan_range, stream_mp4, timeline

router = APIRouter(tags=["playback"])
PLAYBACK = require_camera(Capability.PLAYBACK)


def _aware(moment: datetime | None, name: str) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        raise Problem(400, "naive-time", f"{name} needs a time zone, e.g. 2026-05-01T08:00:00+07:00 or ...Z")
    return moment


@router.get("/cameras/{camera_id}/timeline", response_model=TimelineOut, response_model_exclude_unset=True)
def camera_timeline(
    camera_id: str,
    request: Request,
    day: date | None = Query(None, description="a day, YYYY-MM-DD, in time zone `tz`"),
    tz: str = Query("UTC", max_length=64, description="IANA time zone of `day`, e.g. Asia/Ho_Chi_Minh"),
    start: datetime | None = None,
    end: datetime | None = None,
    user: Principal = PLAYBACK,
    runtime: Services = Depends(get_runtime),
) -> dict:
    """Recorded runs with the gaps between them and event markers, for one day or a range."""
    if day is not None:
        try:
            zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise Problem(400, "bad-time-zone", f"unknown time zone '{tz}'") from None
        start = datetime.combine(day, time(0), zone)
        end = datetime.combine(day + timedelta(days=1), time(0), zone)
    start, end = _aware(start, "start"), _aware(end, "end")
    if start is None or end is None or end <= start:
        raise Problem(400, "bad-range", "give day=YYYY-MM-DD, or start and end with end after start")
    if end - start > timedelta(days=31):
        raise Problem(400, "range-too-long", "a timeline covers at most 31 days",
                      params={"reason": "days", "max": 31})
    config = security_config(request)
    earliest = playback_earliest(user.role, config, utcnow())
    result = timeline(runtime.db, camera_id, start, end, earliest)
    result["available_from"] = earliest.isoformat() if earliest else None
    return result


@router.get("/cameras/{camera_id}/playback.mp4", response_class=StreamingResponse,
            responses={200: {"content": {"video/mp4": {}}, "description": "MP4 video"}})
def playback(
    camera_id: str,
    request: Request,
    start: datetime,
    end: datetime,
    user: Principal = PLAYBACK,
    runtime: Services = Depends(get_runtime),
) -> StreamingResponse:
    """The range [start, end) as fragmented MP4, remuxed from the recordings as it streams."""
    start, end = _aware(start, "start"), _aware(end, "end")
    config = security_config(request)
    if end <= start:
        raise Problem(400, "bad-range", "end must be after start")
    if end - start > timedelta(hours=config.max_range_hours):
        raise Problem(400, "range-too-long", f"one playback covers at most {config.max_range_hours:g} hours",
                      params={"reason": "hours", "max": config.max_range_hours})
    earliest = playback_earliest(user.role, config, utcnow())
    if earliest is not None and start < earliest:
        raise Problem(403, "beyond-lookback",
                      f"your role may play back only the last {config.operator_lookback_minutes:g} minutes "
                      f"(from {earliest.isoformat()})", available_from=earliest.isoformat(),
                      params={"minutes": config.operator_lookback_minutes, "from": earliest.isoformat()})
    try:
        plan = plan_range(runtime.db, runtime.files, camera_id, start, end)
    except NothingRecorded as exc:
        raise Problem(404, "no-recording", str(exc)) from None
    except UnsafePath:
        raise Problem(500, "bad-index", "the recording index points outside the recordings folder") from None
    PLAYBACKS.inc()
    audit(runtime.db, user, "playback", camera_id, {"start": start, "end": end}, client_ip(request))
    headers = {
        "X-Playback-Start": plan.media_start.isoformat(),
        "X-Playback-Offset": f"{plan.offset:.3f}",
        "X-Playback-First-Keyframe": plan.first_keyframe.isoformat(),
        "X-Playback-Gaps": str(len(plan.gaps)),
        "Cache-Control": "no-store",
        "Content-Disposition": f'inline; filename="{camera_id}_{start.astimezone(timezone.utc):%Y%m%dT%H%M%S}Z.mp4"',
    }
    if plan.truncated_at is not None:
        headers["X-Playback-Truncated-At"] = plan.truncated_at.isoformat()
    return StreamingResponse(stream_mp4(plan, runtime.files), media_type="video/mp4", headers=headers)


# Thumbnails come by the dozen while a playhead is dragged: one audit entry per user and camera
# in this many seconds says who looked, without burying the log.
PICTURE_AUDIT_SECONDS = 600


@router.get("/cameras/{camera_id}/picture.jpg", response_class=Response,
            responses={200: {"content": {"image/jpeg": {}}, "description": "JPEG of the recorded keyframe"}})
def recorded_picture(
    camera_id: str,
    request: Request,
    at: datetime,
    width: int = Query(320, ge=64, le=1280),
    user: Principal = PLAYBACK,
    runtime: Services = Depends(get_runtime),
) -> Response:
    """The recorded keyframe at or before ``at`` as a JPEG (for timeline thumbnails and the picture
    under a dragged playhead); 404 in a gap."""
    at = _aware(at, "at")
    config = security_config(request)
    earliest = playback_earliest(user.role, config, utcnow())
    if earliest is not None and at < earliest:
        raise Problem(403, "beyond-lookback", f"your role may play back only the last "
                      f"{config.operator_lookback_minutes:g} minutes", available_from=earliest.isoformat())
    jpeg = runtime.pictures.at(camera_id, at, width)
    if jpeg is None:
        raise Problem(404, "no-recording", f"camera '{camera_id}' has no recording at {at.isoformat()}")
    audited = getattr(request.app.state, "picture_audits", None)  # (user, camera) -> time of the last entry
    if audited is None:
        audited = request.app.state.picture_audits = {}
    key, now = (user.username, camera_id), monotonic()
    if now - audited.get(key, -PICTURE_AUDIT_SECONDS) >= PICTURE_AUDIT_SECONDS:
        audited[key] = now
        audit(runtime.db, user, "playback.pictures", camera_id, {"at": at}, client_ip(request))
    # A recorded picture never changes: let the browser keep it while the session lasts.
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})
