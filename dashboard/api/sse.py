"""Server-sent events fed from a bus topic: one ``data:`` line of JSON per message the user may see."""

from __future__ import annotations

import asyncio
import json
from typing import Callable

from fastapi import Request
from fastapi.responses import StreamingResponse

from vms.bus import Bus

KEEPALIVE_SECONDS = 15.0
QUEUE_MESSAGES = 1000


def bus_stream(request: Request, bus: Bus, topic: str, wanted: Callable[[dict], bool]) -> StreamingResponse:
    """Messages of ``topic`` passing ``wanted``, and a comment every 15 s to keep proxies open."""

    async def body():
        queue: asyncio.Queue[dict] = asyncio.Queue(maxsize=QUEUE_MESSAGES)

        async def pump() -> None:
            async for message in bus.subscribe(topic):
                if queue.full():
                    queue.get_nowait()  # a stalled client loses the oldest, not the server's memory
                queue.put_nowait(message)

        task = asyncio.create_task(pump())
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
                if wanted(message):
                    yield f"data: {json.dumps(message, default=str, ensure_ascii=False)}\n\n"
        finally:
            task.cancel()

    return StreamingResponse(
        body(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
