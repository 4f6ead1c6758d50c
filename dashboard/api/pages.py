"""The operators' web dashboard: the HTML shell of the single-page app, served without a rule.

The shell and its scripts and styles (under ``/static/app/``) hold no data; everything they
show comes from the protected API, so the page itself is public and shows a sign-in form
to a visitor without a session.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

from dashboard.security import PUBLIC

APP_DIR = Path(__file__).resolve().parent.parent / "static" / "app"
# Defence in depth against injected markup: scripts, styles and connections from this server
# only (nothing from the internet), pictures also from data: (probe snapshots) and video from
# blob: (Media Source playback). WebRTC media is not governed by connect-src.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# The shell is small and changes with every release: always revalidate it.
HEADERS = {"Cache-Control": "no-cache", "Content-Security-Policy": CSP}

router = APIRouter(tags=["pages"], include_in_schema=False, dependencies=[PUBLIC])


@router.get("/")
def dashboard() -> FileResponse:
    return FileResponse(APP_DIR / "index.html", media_type="text/html; charset=utf-8", headers=HEADERS)


@router.get("/app")
def dashboard_alias() -> RedirectResponse:
    return RedirectResponse("/", status_code=308)
