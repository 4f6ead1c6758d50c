"""The health of one camera stream as ingest sees it, published on the bus."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import asdict, dataclass, field
from enum import Enum


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
    since: float = field(default_factory=time.time)
    last_packet_at: float | None = None
    fps: float = 0.0
    bitrate_bps: float = 0.0
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    session: int = 0
    reconnects: int = 0
    packets: int = 0

    def to_message(self) -> dict:
        message = asdict(self)
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


class StatusBoard:
    """The last status of every stream, heard on the bus: what a process without the worker
    (the API) reads for health, metrics and the camera list. A status not heard again within
    ``stale_seconds`` is forgotten (its worker republishes every few seconds while alive)."""

    def __init__(self, bus, topic: str = "camera.status", stale_seconds: float = 35.0, clock=time.time) -> None:
        self.bus = bus
        self.topic = topic
        self.stale_seconds = stale_seconds
        self.clock = clock
        self._latest: dict[tuple[str, str], tuple[float, StreamStatus]] = {}
        self._remove = None

    def start(self) -> "StatusBoard":
        self._remove = self.bus.add_listener(self.topic, self._heard)
        return self

    def stop(self) -> None:
        if self._remove is not None:
            self._remove()

    def _heard(self, topic: str, message: dict) -> None:
        try:
            status = StreamStatus(**{k: message[k] for k in StreamStatus.__dataclass_fields__ if k in message})
            status.state = StreamState(status.state)
        except (TypeError, ValueError):
            return
        self._latest[(status.camera_id, status.stream)] = (self.clock(), status)

    def statuses(self) -> list[StreamStatus]:
        now = self.clock()
        return [status for heard, status in list(self._latest.values()) if now - heard < self.stale_seconds]
