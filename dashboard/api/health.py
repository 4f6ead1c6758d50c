"""Liveness (public) and Prometheus metrics (admins, technicians, or a token scoped to metrics.read)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from dashboard.api.deps import get_runtime
from dashboard.api.responses import HealthOut
from dashboard.services import Services
from dashboard.security import PUBLIC, require
from vms.auth.roles import Capability
from vms.metrics import exposition

router = APIRouter(tags=["health"])


@router.get("/healthz", dependencies=[PUBLIC], response_model=HealthOut, response_model_exclude_unset=True)
def healthz(runtime: Services = Depends(get_runtime)) -> dict:
    runtime.db.ping()  # raises (500) when the database does not answer
    streams = runtime.board.streams()
    recording = runtime.board.recording()
    return {
        "status": "ok",
        "cameras": len(streams),  # camera streams reported by a live worker (the field's historical name)
        "online": sum(1 for s in streams if s.get("state") == "online"),
        "recording": {
            "cameras": len(recording),
            "problems": {camera_id: {key: health[key] for key in ("state", "seconds_since_segment",
                                                                  "bytes_per_minute", "normal_bytes_per_minute")}
                         for camera_id, health in recording.items() if health["state"] in ("stalled", "low")},
        },
    }


@router.get("/metrics", dependencies=[require(Capability.METRICS_READ)], response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text exposition format"}})
def metrics(request: Request) -> Response:
    """Prometheus text format. Scrape with ``authorization: {credentials: <token>}`` (a token made by
    ``vms user token <user> --scope metrics.read``)."""
    return Response(exposition(request.app.state.metrics_registry), media_type=CONTENT_TYPE_LATEST)
