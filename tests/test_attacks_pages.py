"""Pages (issue 13): /docs loaded Swagger UI from a public CDN (blank offline) and no page had a CSP.

Every answer now carries a strict Content-Security-Policy, X-Content-Type-Options and
Referrer-Policy; /docs is served from our own files and renders in a browser with no
internet and no CSP violation, and so do the dashboard and the live wall.
"""

from __future__ import annotations

import re

import pytest

from tests.support.api import api_system
from tests.support.browser import chromium, chromium_available
from tests.support.server import serve_app

PAGES = ["/", "/docs", "/live", "/openapi.json", "/static/app/app.js", "/static/swagger-ui/swagger-ui-bundle.js",
         "/api/auth/me", "/api/cameras", "/healthz", "/no-such-page"]


def _directives(policy: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


async def test_every_answer_carries_a_strict_csp_and_the_other_headers(tmp_path):
    async with api_system(tmp_path, roles=False) as system:
        for path in PAGES:
            response = await system.client.get(path)
            policy = _directives(response.headers.get("content-security-policy", ""))
            assert policy.get("default-src") == ["'self'"], path
            assert policy.get("script-src") == ["'self'"] and policy.get("style-src") == ["'self'"], path
            assert policy.get("object-src") == ["'none'"] and policy.get("frame-ancestors") == ["'none'"], path
            assert response.headers["x-content-type-options"] == "nosniff", path
            assert response.headers["referrer-policy"] == "same-origin", path
        docs = await system.client.get("/docs")
        assert docs.status_code == 200 and "swagger-ui" in docs.text
        # Nothing from elsewhere, nothing inline.
        assert not re.search(r"(src|href)=\"(https?:)?//", docs.text)
        assert "<script>" not in docs.text and "<style" not in docs.text
        for page in ("/", "/live"):
            html = (await system.client.get(page)).text
            assert "<style" not in html and not re.search(r"<script(?![^>]*\bsrc=)", html) and " style=" not in html
        assert (await system.client.get("/redoc")).status_code == 404  # ReDoc came from a CDN too: gone


@pytest.mark.browser
@pytest.mark.skipif(not chromium_available(), reason="Chromium or Playwright missing")
async def test_docs_dashboard_and_live_wall_render_under_the_csp(tmp_path):
    async with api_system(tmp_path, roles=False) as system:
        with serve_app(system.app) as served:
            async with chromium() as page:
                messages: list[str] = []
                page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
                external: list[str] = []
                page.on("request", lambda request: None if request.url.startswith(served.url) or request.url.startswith("data:")
                        else external.append(request.url))
                await page.goto(served.url + "/docs")
                # Swagger UI drew the operations of our OpenAPI description.
                await page.wait_for_selector(".swagger-ui .opblock-summary-path[data-path='/api/auth/login']", timeout=30_000)
                await page.goto(served.url + "/")
                await page.wait_for_selector("#login-form", state="visible", timeout=30_000)
                await page.goto(served.url + "/live")
                await page.wait_for_selector("#wall", state="attached")
                violations = [m for m in messages if "Content Security Policy" in m]
                assert not violations, "\n".join(violations)
                assert not external, external
