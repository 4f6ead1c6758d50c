"""Request bodies within limits: 413 problem+json for a body too large, 408 for one that crawls.

A body larger than the limit of its kind is refused as soon as its ``Content-Length`` (or, when
streamed, its running size) shows it, so it is never held in memory: two 300 MB JSON bodies
to ``/api/auth/login`` took the process to 2.2 GB before this (issue 11). JSON and forms get a
small limit; only an SDP offer (WHEP) may be larger. The deadline covers the body only: once it
is in, the app's wait for the client to leave (a long SSE feed) is not bounded.
"""

from __future__ import annotations

import asyncio
import time

from dashboard.problems import problem_response

SDP = b"application/sdp"


class BodyLimit:
    """ASGI middleware: 413 for bodies over the limit of their kind, 408 for bodies that crawl."""

    def __init__(self, app, max_body_bytes: int, max_sdp_bytes: int, body_timeout: float) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_sdp_bytes = max_sdp_bytes
        self.body_timeout = body_timeout

    def limit_of(self, headers: dict[bytes, bytes]) -> int:
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        return self.max_sdp_bytes if content_type == SDP else self.max_body_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        limit = self.limit_of(headers)
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._too_large(scope, receive, send, limit)
            return
        deadline = time.monotonic() + self.body_timeout
        received = 0
        state = {"started": False, "refused": False, "body_done": False}

        async def refuse(status: int, slug: str, title: str, detail: str) -> dict:
            # Answered here, not raised: FastAPI turns any error while parsing a body into a 400.
            if not state["started"]:
                state["refused"] = True
                response = problem_response(status, slug, title, detail, headers={"connection": "close"})
                await response(scope, receive, send)
            return {"type": "http.disconnect"}

        async def guarded_receive():
            nonlocal received
            if state["refused"]:
                return {"type": "http.disconnect"}
            if state["body_done"]:
                # The body is in; what is awaited now is the client leaving, which a long response
                # (an SSE feed) awaits for hours. The deadline here cut every feed after it.
                return await receive()
            remaining = deadline - time.monotonic()
            try:
                message = await asyncio.wait_for(receive(), max(0.001, remaining))
            except asyncio.TimeoutError:
                return await refuse(408, "body-timeout", "Request timeout",
                                    f"the request body did not arrive within {self.body_timeout:g} s")
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    return await refuse(413, "body-too-large", "Too large", _too_large_detail(limit))
                state["body_done"] = not message.get("more_body", False)
            return message

        async def watched_send(message) -> None:
            if state["refused"]:
                return  # the app answers a request that was already refused: dropped
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        await self.app(scope, guarded_receive, watched_send)

    async def _too_large(self, scope, receive, send, limit: int) -> None:
        # Answer without reading the body; "Connection: close" stops the client from sending it.
        response = problem_response(413, "body-too-large", "Too large", _too_large_detail(limit),
                                    headers={"connection": "close"})
        await response(scope, receive, send)


def _too_large_detail(limit: int) -> str:
    return f"the request body is larger than {limit} bytes, the limit for this kind of request"
