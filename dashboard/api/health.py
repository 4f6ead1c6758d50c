"""Liveness (public) and Prometheus metrics (admins, technicians, or a token scoped to metrics.read)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from dashboard.api.deps import get_runtime
from dashboard.runtime import Runtime
from dashboard.security import PUBLIC, require
from vms.auth.roles import Capability
from vms.metrics import exposition

router = APIRouter(tags=["health"])


@router.get("/healthz", dependencies=[PUBLIC])
def healthz(runtime: Runtime = Depends(get_runtime)) -> dict:
    with runtime.db.session() as session:
        session.execute(text("SELECT 1"))
    cameras = runtime.statuses()
    return {
        "status": "ok",
        "cameras": len(cameras),
        "online": sum(1 for s in cameras if s.state.value == "online"),
    }


@router.get("/metrics", dependencies=[require(Capability.METRICS_READ)])
def metrics(request: Request) -> Response:
    """Prometheus text format. Scrape with ``authorization: {credentials: <token>}`` (a token made by
    ``vms user token <user> --scope metrics.read``)."""
    return Response(exposition(request.app.state.metrics_registry), media_type=CONTENT_TYPE_LATEST)
