"""Build the FastAPI application around a Runtime."""

from __future__ import annotations

from fastapi import FastAPI

from dashboard.api import cameras, health
from dashboard.runtime import Runtime


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(title="vms", summary="Camera command-centre video monitoring system", version="0.1.0")
    app.state.runtime = runtime
    app.include_router(health.router)
    app.include_router(cameras.router, prefix="/api")
    return app
