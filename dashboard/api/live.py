"""Live video: WHEP (RFC 9725) signaling for WebRTC viewers, and JPEG snapshots.

Routes stay thin: the runtime's ``LiveGateway`` (``vms.live.gateway``) does the work, whether
the camera's hub runs in this process or on the worker recording it (scale-out), and its
refusals come back as ``application/problem+json`` (RFC 9457). Audit entries are written here,
in the API process, either way.
"""

from __future__ import annotations

import logging
import re
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Callable

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from dashboard.api.deps import get_runtime
from dashboard.api.responses import LiveOut
from dashboard.problems import Problem, problem_response
from dashboard.services import Services
from dashboard.security import PUBLIC, Principal, client_ip, current_user, require, require_camera
from starlette.concurrency import run_in_threadpool
from vms.auth.audit import audit
from vms.auth.roles import Capability
from vms.live import (
    BadOffer,
    CameraInError,
    CameraNotFound,
    CameraNotOwned,
    CodecNotSupported,
    LiveError,
    LiveUnavailable,
    NoPicture,
    SessionNotFound,
    StreamNotFound,
    TooManyConnecting,
    ViewerLimitReached,
    WorkerFailed,
    WorkerUnavailable,
)
from vms.live.gateway import MAX_WIDTH, MIN_WIDTH, LiveGateway

SDP = "application/sdp"
STREAMS = ("main", "sub")

log = logging.getLogger(__name__)


# Each refusal of the gateway (a hub here or on a worker): (status, type slug, title, extra headers)
_LIVE_PROBLEMS: dict[type[LiveError], tuple[int, str, str, dict]] = {
    CameraNotFound: (404, "camera-not-found", "Camera not found", {}),
    StreamNotFound: (404, "stream-not-found", "Stream not found", {}),
    SessionNotFound: (404, "session-not-found", "Live session not found", {}),
    BadOffer: (400, "bad-offer", "SDP offer not usable", {}),
    CodecNotSupported: (422, "codec-not-supported", "Camera codec not playable in browsers", {}),
    ViewerLimitReached: (503, "viewer-limit", "Viewer limit reached", {"Retry-After": "10"}),
    TooManyConnecting: (429, "too-many-connecting", "Too many sessions still connecting", {"Retry-After": "5"}),
    NoPicture: (503, "no-picture", "No picture yet", {"Retry-After": "2"}),
    CameraInError: (503, "camera-error", "Camera in error", {"Retry-After": "30"}),
    LiveUnavailable: (503, "live-unavailable", "Live video unavailable", {}),
    CameraNotOwned: (503, "camera-not-owned", "Camera not owned by any worker right now", {"Retry-After": "5"}),
    WorkerUnavailable: (503, "worker-unavailable", "Camera's worker not answering", {"Retry-After": "5"}),
    WorkerFailed: (502, "worker-failed", "Camera's worker failed", {}),
}


def live_problem(exc: LiveError) -> JSONResponse:
    status, slug, title, headers = next(v for k, v in _LIVE_PROBLEMS.items() if isinstance(exc, k))
    return problem_response(status, slug, title, str(exc), headers)


class LiveRoute(APIRoute):
    """Turns the gateway's refusals into problem+json responses (route problems use ``Problem``)."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except LiveError as exc:
                return live_problem(exc)

        return route


@asynccontextmanager
async def lifespan(app: FastAPI):
    gateway: LiveGateway = app.state.runtime.gateway
    await gateway.start()
    # Sessions an earlier API process left open (killed outright) get their live.stop now.
    try:
        await app.state.live_audit.reconcile(gateway)
    except Exception:  # the audit log's tidying never keeps the dashboard from starting
        log.exception("settling live sessions left open by an earlier API process failed")
    yield
    await gateway.aclose()


router = APIRouter(tags=["live"], route_class=LiveRoute, lifespan=lifespan)


def get_live(runtime: Services = Depends(get_runtime)) -> LiveGateway:
    return runtime.gateway


# An SDP offer is a few kilobytes of printable text lines (RFC 8866 section 5); anything else
# is refused here, before it reaches the WebRTC stack or a worker.
MAX_OFFER_BYTES = 64 * 1024
_SDP_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _offer_text(body: bytes) -> str:
    """The offer as text, or 400 bad-offer when too large, not UTF-8 or holding control characters."""
    if len(body) > MAX_OFFER_BYTES:
        raise Problem(400, "bad-offer", f"the SDP offer is larger than {MAX_OFFER_BYTES} bytes", "SDP offer not usable")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Problem(400, "bad-offer", "the SDP offer is not UTF-8 text", "SDP offer not usable") from None
    if _SDP_FORBIDDEN.search(text):
        raise Problem(400, "bad-offer", "the SDP offer holds control characters", "SDP offer not usable")
    return text


def viewer_of(user_id: int) -> str:
    """The owner name of a user's live sessions in the hubs."""
    return f"user:{user_id}"


def _stream(stream: str) -> str:
    if stream not in STREAMS:
        detail = f"stream must be one of {', '.join(STREAMS)}, not '{stream}'"
        raise Problem(400, "bad-stream", detail, "Unknown stream")
    return stream


@router.options("/cameras/{camera_id}/whep", status_code=204, dependencies=[PUBLIC])
def whep_options(camera_id: str) -> Response:
    return Response(status_code=204, headers={"Accept-Post": SDP, "Allow": "OPTIONS, POST"})


@router.post("/cameras/{camera_id}/whep", status_code=201, response_class=Response, dependencies=[require_camera(Capability.LIVE)],
             responses={201: {"content": {"application/sdp": {}}, "description": "the SDP answer; Location names the session"}})
async def start_live(
    camera_id: str,
    request: Request,
    stream: str = "main",
    transcode: bool = False,
    live: LiveGateway = Depends(get_live),
    user: Principal = Depends(current_user),
    runtime: Services = Depends(get_runtime),
) -> Response:
    """Play a camera: the body is the browser's SDP offer, the answer comes back with 201.

    ``Location`` names the session: ``<session>``, or ``<worker>.<session>`` in scale-out mode."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != SDP:
        raise Problem(415, "unsupported-media-type", f"send the SDP offer as {SDP}")
    offer = _offer_text(await request.body())
    answer = await live.offer(camera_id, offer, _stream(stream), transcode, owner=viewer_of(user.user.id))
    await run_in_threadpool(audit, runtime.db, user, "live.start", camera_id, {"session": answer.session, "stream": stream, "transcode": transcode}, client_ip(request))
    request.app.state.live_audit.started(answer.session, user, camera_id, client_ip(request))
    location = request.url_for("stop_live", camera_id=camera_id, session_id=answer.session).path
    headers = {"Location": location, "ETag": f'"{answer.session}"'}
    return Response(answer.answer, status_code=201, media_type=SDP, headers=headers)


@router.delete("/cameras/{camera_id}/whep/{session_id}", dependencies=[require_camera(Capability.LIVE)], response_class=Response,
               responses={200: {"content": {}, "description": "the session ended (empty body, as WHEP says)"}})
async def stop_live(camera_id: str, session_id: str, request: Request, user: Principal = Depends(current_user), live: LiveGateway = Depends(get_live), runtime: Services = Depends(get_runtime)) -> Response:
    request.app.state.live_audit.stopped_by_viewer(session_id)
    await live.close(camera_id, session_id)
    await run_in_threadpool(audit, runtime.db, user, "live.stop", camera_id, {"session": session_id}, client_ip(request))
    return Response(status_code=200)


@router.patch("/cameras/{camera_id}/whep/{session_id}", dependencies=[require_camera(Capability.LIVE)], response_class=Response,
              responses={405: {"description": "trickle ICE is not supported (the only answer)"}})
def patch_live(camera_id: str, session_id: str) -> Response:
    raise Problem(
        405,
        "trickle-not-supported",
        "send the offer with all ICE candidates gathered; start a new session to restart ICE",
        "Trickle ICE not supported",
        {"Allow": "DELETE"},
    )


@router.get("/cameras/{camera_id}/snapshot.jpg", response_class=Response, dependencies=[require_camera(Capability.LIVE)],
            responses={200: {"content": {"image/jpeg": {}}, "description": "a JPEG picture"}})
async def snapshot(
    camera_id: str, request: Request, stream: str = "main", width: int | None = None,
    live: LiveGateway = Depends(get_live), user: Principal = Depends(current_user), runtime: Services = Depends(get_runtime),
) -> Response:
    """The newest keyframe as JPEG, scaled to ``width`` pixels (aspect ratio kept).

    A picture is a live view: audited, once per user and camera per ``security.snapshot_audit_seconds``."""
    if width is not None and not MIN_WIDTH <= width <= MAX_WIDTH:
        raise Problem(400, "bad-width", f"width must be between {MIN_WIDTH} and {MAX_WIDTH}", "Width out of range")
    picture = await live.snapshot(camera_id, _stream(stream), width)
    await run_in_threadpool(request.app.state.snapshot_audit.record, runtime.db, user, "live.snapshot", camera_id,
                            client_ip(request))
    captured = datetime.fromtimestamp(picture.captured_at, timezone.utc)
    return Response(
        picture.jpeg,
        media_type="image/jpeg",
        headers={
            "Cache-Control": "max-age=1",
            "Last-Modified": format_datetime(captured, usegmt=True),
            "X-Captured-At": captured.isoformat(),
        },
    )


@router.get("/live", dependencies=[require(Capability.CAMERA_MANAGE)], response_model=LiveOut, response_model_exclude_unset=True)
async def live_status(live: LiveGateway = Depends(get_live)) -> dict:
    """Sessions and relays of this server, or of every worker in scale-out mode (for operators and tests)."""
    return await live.describe()
