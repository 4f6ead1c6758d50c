"""The request-body deadline covers the body only, never a long response such as an SSE feed."""

from __future__ import annotations

import asyncio

import httpx
from starlette.applications import Starlette
from starlette.responses import StreamingResponse
from starlette.routing import Route

from dashboard.body_limit import BodyLimit

TICKS = 8


async def _ticks():
    for n in range(TICKS):
        await asyncio.sleep(0.1)  # the feed's pace; the body deadline below is shorter than the feed
        yield f"data: {n}\n\n"


async def _feed(request):
    return StreamingResponse(_ticks(), media_type="text/event-stream")


def test_a_feed_outlives_the_body_deadline():
    """The wall page's SSE feeds broke (ERR_INCOMPLETE_CHUNKED_ENCODING; uvicorn: "ASGI callable
    returned without completing response"): the body deadline also bounded the receive() with
    which Starlette waits for the client to leave, so once it passed the feed was told the client
    had gone and was cut mid-stream."""
    app = BodyLimit(Starlette(routes=[Route("/feed", _feed)]), 1000, 1000, body_timeout=0.2)

    async def read() -> str:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://vms") as client:
            response = await client.get("/feed")
            return response.text

    assert asyncio.run(read()).count("data:") == TICKS
