"""The API's one way to live video: ``LiveGateway``, whatever process the camera's hub runs in.

``streams.live.local.LocalLive`` is the hub of this process (the all-in-one ``vms run``),
``vmsapp.live_remote.RemoteLive`` the hub of the worker recording the camera, over the bus, and
``NoLive`` an API that has neither. ``vmsapp.runtime.Runtime.build`` picks one; routes never
branch on where a camera runs. Refusals are ``LiveError``s either way. This module is the
interface only: the web layer imports it, never the media stages behind it.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any

from vms.live.errors import LiveUnavailable

# Snapshot widths the API accepts, in pixels (the smallest thumbnail to a 4K frame).
MIN_WIDTH = 16
MAX_WIDTH = 3840


@dataclass(frozen=True)
class Snapshot:
    """A JPEG of a stream's newest keyframe: ``width`` x ``height`` pixels, taken at ``captured_at``."""

    jpeg: bytes
    width: int
    height: int
    captured_at: float  # UTC epoch seconds of the keyframe


@dataclass(frozen=True)
class LiveAnswer:
    session: str  # the session's name in the WHEP resource URL, handed back to ``close``
    answer: str  # SDP


class LiveGateway(abc.ABC):
    async def start(self) -> None:
        """Bind to the web server's loop (its lifespan calls this)."""

    async def aclose(self) -> None:
        """The web server is stopping."""

    @abc.abstractmethod
    async def offer(self, camera_id: str, sdp: str, stream: str = "main", transcode: bool = False,
                    owner: str = "") -> LiveAnswer:
        """Answer a viewer's SDP offer for a camera stream; ``owner`` names the viewer (per-viewer limits)."""

    @abc.abstractmethod
    async def close(self, camera_id: str, session: str) -> None:
        """End a session ``offer`` created (``SessionNotFound`` if there is none)."""

    @abc.abstractmethod
    async def close_owner(self, owner: str) -> int:
        """End every session of ``owner`` at once (user disabled, rights changed); how many ended."""

    @abc.abstractmethod
    async def snapshot(self, camera_id: str, stream: str = "main", width: int | None = None) -> Snapshot:
        """The newest keyframe as JPEG."""

    @abc.abstractmethod
    async def describe(self) -> dict[str, Any]:
        """Sessions and relays, for operators."""


class NoLive(LiveGateway):
    """An API process with no worker of its own and no bus to reach one."""

    REASON = "this server runs no stream worker and has no Redis to reach one (set VMS_REDIS_URL)"

    async def offer(self, camera_id: str, sdp: str, stream: str = "main", transcode: bool = False,
                    owner: str = "") -> LiveAnswer:
        raise LiveUnavailable(self.REASON)

    async def close(self, camera_id: str, session: str) -> None:
        raise LiveUnavailable(self.REASON)

    async def close_owner(self, owner: str) -> int:
        return 0  # no sessions here to end

    async def snapshot(self, camera_id: str, stream: str = "main", width: int | None = None) -> Snapshot:
        raise LiveUnavailable(self.REASON)

    async def describe(self) -> dict[str, Any]:
        raise LiveUnavailable(self.REASON)
