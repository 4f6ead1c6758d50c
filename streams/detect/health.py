"""Camera health events from ingest state: "camera_offline" and "camera_online".

Ingest publishes each stream's ``StreamStatus`` on ``camera.status``. A camera whose stream
has been down (offline or error) for more than ``offline_after_seconds`` raises
"camera_offline", starting when the stream went down; when every stream is back online that
event ends and an instant "camera_online" follows. Blips shorter than the threshold raise
nothing; a stream stopped on purpose (camera removed or disabled) ends the event silently.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from streams.detect.pipeline import EventSink
from vms.background import Periodic
from vms.bus import Bus
from vms.bus.base import Listener
from vms.cameras.status import STATUS_TOPIC

log = logging.getLogger(__name__)

DOWN_STATES = {"offline", "error"}


@dataclass
class _Camera:
    streams: dict[str, dict[str, Any]] = field(default_factory=dict)  # stream -> last status message
    event_id: int | None = None
    down_since: float | None = None


class CameraHealth(Periodic):
    def __init__(self, bus: Bus, sink: EventSink, offline_after_seconds: float = 30, worker_id: str | None = None,
                 clock: Callable[[], float] = time.time, tick_seconds: float = 0.5,
                 statuses: Callable[[Listener], Callable[[], None]] | None = None) -> None:
        """``statuses(listener)`` subscribes to the worker's own statuses in this process (and returns
        the remover); without it, ``bus``'s ``camera.status`` topic. A Redis bus would not bring a
        worker's statuses back to it during an outage, and an outage of a camera inside one
        would raise no event at all (a trial)."""
        super().__init__("camera-health", tick_seconds)
        self.bus = bus
        self.statuses = statuses
        self.sink = sink
        self.offline_after = offline_after_seconds
        self.worker_id = worker_id
        self.clock = clock
        self.cameras: dict[str, _Camera] = {}
        self._lock = threading.Lock()
        self._remove: Callable[[], None] | None = None

    def start(self, timer: bool = True) -> "CameraHealth":
        """Listen to stream statuses; ``timer`` checks for due offline events twice a second
        (without it, call ``check()``)."""
        if self.statuses is not None:
            self._remove = self.statuses(self._on_status)
        else:
            self._remove = self.bus.add_listener(STATUS_TOPIC, self._on_status)
        if timer:
            super().start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if self._remove is not None:
            self._remove()
        super().stop(timeout)

    def tick(self) -> None:
        self.check()

    def _on_status(self, topic: str, message: dict[str, Any]) -> None:
        # With a shared Redis bus every worker hears every status; each watches its own cameras.
        if self.worker_id is not None and message.get("worker_id", self.worker_id) != self.worker_id:
            return
        camera_id, stream = message.get("camera_id"), message.get("stream", "main")
        if not camera_id:
            return
        with self._lock:
            camera = self.cameras.setdefault(camera_id, _Camera())
            camera.streams[stream] = message
            self._evaluate(camera_id, camera, self.clock())

    def check(self, now: float | None = None) -> None:
        """Raise offline events that are due (called periodically)."""
        now = self.clock() if now is None else now
        with self._lock:
            for camera_id, camera in self.cameras.items():
                self._evaluate(camera_id, camera, now)

    def _evaluate(self, camera_id: str, camera: _Camera, now: float) -> None:
        states = {stream: m.get("state") for stream, m in camera.streams.items()}
        down = {stream: m for stream, m in camera.streams.items() if m.get("state") in DOWN_STATES}
        if down:
            since = min(float(m.get("since") or now) for m in down.values())
            camera.down_since = since if camera.down_since is None else min(camera.down_since, since)
            if camera.event_id is None and now - camera.down_since > self.offline_after:
                details = {
                    "streams": {s: {"state": m.get("state"), "error": m.get("error")} for s, m in down.items()},
                }
                camera.event_id = self.sink.open(camera_id, "camera_offline", start=camera.down_since,
                                                 detected_at=now, details=details)
                log.warning("camera %s offline since %.0f s", camera_id, now - camera.down_since)
            return
        if all(state == "stopped" for state in states.values()):
            if camera.event_id is not None:  # stopped on purpose: no longer an outage to watch
                self.sink.close(camera.event_id, now)
            camera.event_id, camera.down_since = None, None
            return
        if all(state == "online" for state in states.values()):
            if camera.event_id is not None:
                back = max(float(m.get("since") or now) for m in camera.streams.values())
                self.sink.close(camera.event_id, back)
                online = self.sink.open(camera_id, "camera_online", start=back, detected_at=now,
                                        details={"down_seconds": round(back - (camera.down_since or back), 1)})
                self.sink.close(online, back)  # an instant event: it ends where it starts
                log.info("camera %s back online", camera_id)
            camera.event_id, camera.down_since = None, None
