"""Liveness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from dashboard.api.deps import get_runtime
from dashboard.runtime import Runtime

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(runtime: Runtime = Depends(get_runtime)) -> dict:
    with runtime.db.session() as session:
        session.execute(text("SELECT 1"))
    cameras = runtime.worker.statuses() if runtime.worker else []
    return {
        "status": "ok",
        "cameras": len(cameras),
        "online": sum(1 for s in cameras if s.state.value == "online"),
    }


@router.get("/metrics")
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
