"""The health of one camera stream as ingest sees it, published on the bus."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any


class StreamState(str, Enum):
    CONNECTING = "connecting"
    ONLINE = "online"
    OFFLINE = "offline"  # could not reach the camera or lost it; retrying
    ERROR = "error"  # reachable but unusable as configured (auth, codec, no video); retrying slowly
    STOPPED = "stopped"


@dataclass
class StreamStatus:
    camera_id: str
    stream: str
    state: StreamState = StreamState.CONNECTING
    error: str | None = None
    # The error as a code and parameters (streams.errors.StreamProblem), for the UI's own words.
    error_code: str | None = None
    error_params: dict[str, Any] = field(default_factory=dict)
    since: float = field(default_factory=time.time)
    last_packet_at: float | None = None
    fps: float = 0.0
    bitrate_bps: float = 0.0
    codec: str | None = None
    # Who pulls the stream in its current (or last) session: "builtin" or "ffmpeg". A camera set
    # to the built-in client that it cannot serve shows "ffmpeg" here (streams.ingest_builtin).
    rtsp_client: str | None = None
    width: int | None = None
    height: int | None = None
    session: int = 0
    reconnects: int = 0
    packets: int = 0
    # Discontinuities of the camera clock seen since the worker started, by kind (timeline.py).
    discontinuities: dict[str, int] = field(default_factory=dict)

    def to_message(self) -> dict[str, Any]:
        message = asdict(self)
        message["discontinuities"] = dict(self.discontinuities)
        message["state"] = self.state.value
        return message


class RateMeter:
    """Packets per second and bits per second over a sliding window."""

    def __init__(self, window_seconds: float = 5.0) -> None:
        self.window = window_seconds
        self._samples: deque[tuple[float, int]] = deque()
        self._bytes = 0

    def add(self, now: float, size: int) -> None:
        self._samples.append((now, size))
        self._bytes += size
        while self._samples and now - self._samples[0][0] > self.window:
            self._bytes -= self._samples.popleft()[1]

    def rates(self, now: float) -> tuple[float, float]:
        if len(self._samples) < 2:
            return 0.0, 0.0
        span = max(now - self._samples[0][0], 1e-3)
        return (len(self._samples) - 1) / span, self._bytes * 8 / span

    def reset(self) -> None:
        self._samples.clear()
        self._bytes = 0

