"""Build the FastAPI application around the services of its process (``dashboard.services``)."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

import vms.db.auth  # noqa: F401  (registers the users, sessions and audit tables)
from dashboard.api import (
    alarms, audit, auth, bookmarks, cameras, cases, events, evidence, exports, health, layouts, live, locks, pages,
    recordings, search, two_factor, users,
)
from dashboard.body_limit import BodyLimit
from dashboard.live_audit import LiveStopAudit
from dashboard.problems import install_problem_handlers
from dashboard.services import Services
from dashboard.security import PUBLIC, gatekeeper, matched_route, report_unruled
from vms.auth.audit import CoalescedAudit
from vms.config.security import security_of
from vms.evidence.case_export import fail_interrupted as fail_interrupted_case_exports
from vms.recordings.motion_search import fail_interrupted as fail_interrupted_motion_searches
from vms.evidence.keys import installation_key
from vms.metrics import HTTP_LATENCY, RuntimeCollector, runtime_registry
from vms.recordings.export import ExportQueue
from vms.recordings.index import SegmentIndex

STATIC_DIR = Path(__file__).parent / "static"
# Swagger UI 5 (OpenAPI 3.1, which FastAPI writes), as shipped inside the swagger-ui-py package.
SWAGGER_UI_DIR = Path(importlib.util.find_spec("swagger_ui").origin).parent / "static"


def create_app(runtime: Services) -> FastAPI:
    app = FastAPI(
        title="vms",
        summary="Camera command-centre video monitoring system",
        version="0.1.0",
        dependencies=[Depends(gatekeeper)],  # a route without an access rule is refused
        # FastAPI's own pages load Swagger UI and ReDoc from a public CDN (blank offline, and a
        # third party in the page); /docs is served from our files instead (dashboard.api.pages).
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.runtime = runtime
    app.state.security = security_of(runtime.settings)
    app.state.snapshot_audit = CoalescedAudit(app.state.security.snapshot_audit_seconds)
    app.state.evidence_key = installation_key(runtime.settings)
    fail_interrupted_case_exports(runtime.db)
    fail_interrupted_motion_searches(runtime.db)
    app.state.exports = ExportQueue(runtime.db, runtime.files, app.state.evidence_key, app.state.security.export_workers)
    app.state.metrics_registry = runtime_registry(_collector(runtime))
    app.state.live_audit = LiveStopAudit(runtime.db, runtime.bus).start()
    install_problem_handlers(app)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestMetrics)
    http = runtime.settings.http
    app.add_middleware(BodyLimit, max_body_bytes=http.max_body_bytes, max_sdp_bytes=http.max_sdp_bytes,
                       body_timeout=http.body_timeout_seconds)
    app.include_router(health.router)
    for module in (auth, two_factor, users, audit, cameras, recordings, exports, evidence, locks, bookmarks, cases,
                   search, layouts):
        app.include_router(module.router, prefix="/api")
    app.include_router(live.router, prefix="/api")
    app.include_router(events.router, prefix="/api")
    app.include_router(alarms.router, prefix="/api")
    app.include_router(pages.router)  # the operators' dashboard at /
    app.mount("/static/swagger-ui", StaticFiles(directory=SWAGGER_UI_DIR), name="swagger-ui")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_api_route(
        "/live", lambda: FileResponse(STATIC_DIR / "live.html"), include_in_schema=False, dependencies=[PUBLIC]
    )
    report_unruled(app)
    return app


def _collector(runtime: Services) -> RuntimeCollector:
    """This process's gauges: every worker's streams and recording health (the status board),
    recorded bytes from the index, this process's live viewers."""
    index = SegmentIndex(runtime.db)
    return RuntimeCollector(runtime.board.streams, index.bytes_by_camera, runtime.viewers, runtime.board.recording)


class RequestMetrics:
    """Times every HTTP request, labelled by route template (not the raw path, to bound label values)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def observe(message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            route = matched_route(scope)
            template = getattr(route, "path_format", None) or getattr(route, "path", None) or "unmatched"
            HTTP_LATENCY.labels(scope["method"], template, str(status["code"])).observe(time.perf_counter() - started)


# Defence in depth against injected markup, on every answer (pages, API, files): scripts,
# styles and connections from this server only (nothing from the internet, nothing inline),
# pictures also from data: (probe snapshots, QR codes, Swagger UI icons) and video from blob:
# (Media Source playback). WebRTC media is not governed by connect-src.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


class SecurityHeaders:
    """Headers every answer carries: a strict CSP, no MIME sniffing, no framing (clickjacking), no referrer leaks."""

    HEADERS = [
        (b"content-security-policy", CSP.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"same-origin"),
    ]

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def add_headers(message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.HEADERS if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, add_headers)
