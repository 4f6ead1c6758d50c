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
DOCS_DIR = APP_DIR.parent / "docs"
# The shell is small and changes with every release: always revalidate it.
# (Its Content-Security-Policy, like every answer's, comes from dashboard.app.SecurityHeaders.)
HEADERS = {"Cache-Control": "no-cache"}

router = APIRouter(tags=["pages"], include_in_schema=False, dependencies=[PUBLIC])


@router.get("/")
def dashboard() -> FileResponse:
    return FileResponse(APP_DIR / "index.html", media_type="text/html; charset=utf-8", headers=HEADERS)


@router.get("/docs")
def api_docs() -> FileResponse:
    """Swagger UI for the OpenAPI description, from files this server holds (works offline)."""
    return FileResponse(DOCS_DIR / "index.html", media_type="text/html; charset=utf-8", headers=HEADERS)


@router.get("/app")
def dashboard_alias() -> RedirectResponse:
    return RedirectResponse("/", status_code=308)
