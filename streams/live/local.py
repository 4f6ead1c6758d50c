"""``LocalLive``: the live gateway of a process whose own hub runs the camera (all in one)."""

from __future__ import annotations

from typing import Any

from streams.live.hub import LiveHub
from vms.live.gateway import LiveAnswer, LiveGateway, Snapshot


class LocalLive(LiveGateway):
    """The hub of this process, on the web server's own loop."""

    def __init__(self, hub: LiveHub) -> None:
        self.hub = hub

    async def start(self) -> None:
        await self.hub.start()

    async def aclose(self) -> None:
        await self.hub.aclose()

    async def offer(self, camera_id: str, sdp: str, stream: str = "main", transcode: bool = False,
                    owner: str = "") -> LiveAnswer:
        session = await self.hub.create_session(camera_id, sdp, stream, transcode, owner)
        return LiveAnswer(session.id, session.answer)

    async def close(self, camera_id: str, session: str) -> None:
        await self.hub.close_session(session, camera_id)

    async def close_owner(self, owner: str) -> int:
        return await self.hub.close_owner(owner)

    async def snapshot(self, camera_id: str, stream: str = "main", width: int | None = None) -> Snapshot:
        return await self.hub.snapshot(camera_id, stream, width)

    async def describe(self) -> dict[str, Any]:
        return self.hub.describe()
