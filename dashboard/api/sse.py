"""Server-sent events fed from a bus topic: one ``data:`` line of JSON per message the user may see."""

from __future__ import annotations

import asyncio
import json
from typing import Callable

from fastapi import Request
from fastapi.responses import StreamingResponse

from dashboard.api.revocation import REVOKED_TOPIC
from vms.bus import Bus

KEEPALIVE_SECONDS = 15.0
QUEUE_MESSAGES = 1000


def bus_stream(request: Request, bus: Bus, topic: str, wanted: Callable[[dict], bool],
               user_id: int | None = None) -> StreamingResponse:
    """Messages of ``topic`` passing ``wanted``, and a comment every 15 s to keep proxies open.

    With ``user_id``, the stream ends at once when that user's rights end (disabled, role or
    grants changed: ``REVOKED_TOPIC``), rather than delivering until the client goes away."""

    async def body():
        queue: asyncio.Queue[dict] = asyncio.Queue(maxsize=QUEUE_MESSAGES)

        async def pump() -> None:
            async for message in bus.subscribe(topic):
                if queue.full():
                    queue.get_nowait()  # a stalled client loses the oldest, not the server's memory
                queue.put_nowait(message)

        async def watch_revocation() -> None:
            async for message in bus.subscribe(REVOKED_TOPIC):
                if user_id is not None and message.get("user_id") == user_id:
                    revoked.set()
                    if queue.full():
                        queue.get_nowait()
                    queue.put_nowait({})  # wake the loop below
                    return

        revoked = asyncio.Event()
        task = asyncio.create_task(pump())
        watcher = asyncio.create_task(watch_revocation())
        try:
            await asyncio.sleep(0)  # let the subscription register before telling the client it is open
            yield ": connected\n\n"
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except asyncio.TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield ": keepalive\n\n"
                    continue
                if revoked.is_set():
                    return  # the user's rights ended: so does the stream
                if wanted(message):
                    yield f"data: {json.dumps(message, default=str, ensure_ascii=False)}\n\n"
        finally:
            task.cancel()
            watcher.cancel()

    return StreamingResponse(
        body(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
