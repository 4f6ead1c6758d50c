"""The status board: the last known status of every camera stream, fed from the bus.

Workers publish each stream's ingest state on ``camera.status`` (on every change and every few
seconds while online, plus a heartbeat of all their streams), each camera's recording health on
``camera.recording`` and their live hub's viewers on ``live.viewers``. The board keeps the newest message of each (camera, stream) for
``expire_seconds``: a worker that died stops refreshing its cameras, and they read as unknown
instead of staying "online" for ever. API camera lists, ``/healthz`` and ``/metrics`` read this
board and nothing else, so the API shows the same thing whether the worker runs in its own
process (scale-out) or in the API's (``vms run``).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from vms.bus import Bus

# Messages are ``StreamStatus.to_message()`` plus the publishing ``worker_id``.
STATUS_TOPIC = "camera.status"
# Messages: camera_id, worker_id, segment_seconds, last_segment_at (UTC epoch s, None: none yet),
# segments_written, bytes_per_minute (recent), normal_bytes_per_minute (the camera's longer-run
# rate, None until known), storage_error (the last one, None if none).
RECORDING_TOPIC = "camera.recording"
# Messages: worker_id, viewers ({camera_id: live viewers on that worker's hub}), every heartbeat.
LIVE_TOPIC = "live.viewers"
# Workers repeat every stream's status this often (seconds) so the board can tell them alive.
HEARTBEAT_SECONDS = 5.0
# A status not refreshed for this long (6 heartbeats) is forgotten: its worker is gone.
EXPIRE_SECONDS = 30.0
# Recording slower than this share of the camera's normal byte rate is reported "low".
LOW_RATE_SHARE = 0.5


class StatusBoard:
    """Newest stream statuses and recording health of every camera, with an expiry.

    Thread-safe; ``start`` listens on the bus (every worker's messages in scale-out, this
    process's in the all-in-one mode), ``record`` takes a message directly.
    """

    def __init__(self, bus: Bus | None, expire_seconds: float = EXPIRE_SECONDS,
                 clock: Callable[[], float] = time.time) -> None:
        self.bus = bus
        self.expire_seconds = expire_seconds
        self.clock = clock
        self._streams: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}  # (camera, stream) -> (received, message)
        self._recording: dict[str, tuple[float, dict[str, Any]]] = {}  # camera -> (received, message)
        self._viewers: dict[str, tuple[float, dict[str, Any]]] = {}  # worker -> (received, message)
        self._lock = threading.Lock()
        self._removers: list[Callable[[], None]] = []

    def start(self) -> "StatusBoard":
        """Listen on the bus (nothing to listen to without one: feed ``record`` directly)."""
        if self.bus is not None:
            self._removers = [self.bus.add_listener(STATUS_TOPIC, self.record),
                              self.bus.add_listener(RECORDING_TOPIC, self.record),
                              self.bus.add_listener(LIVE_TOPIC, self.record)]
        return self

    def stop(self) -> None:
        """Stop listening; what the board holds stays readable."""
        for remove in self._removers:
            remove()
        self._removers = []

    def record(self, topic: str, message: dict[str, Any]) -> None:
        """Keep ``message`` (of ``STATUS_TOPIC``, ``RECORDING_TOPIC`` or ``LIVE_TOPIC``) as the newest
        of its stream (of its worker, for ``LIVE_TOPIC``)."""
        if topic == LIVE_TOPIC:
            worker_id = message.get("worker_id")
            if worker_id and isinstance(message.get("viewers"), dict):
                with self._lock:
                    self._viewers[str(worker_id)] = (self.clock(), dict(message))
            return
        camera_id = message.get("camera_id")
        if not camera_id:
            return
        now = self.clock()
        with self._lock:
            if topic == RECORDING_TOPIC:
                self._recording[camera_id] = (now, dict(message))
            else:
                self._streams[(camera_id, message.get("stream", "main"))] = (now, dict(message))

    def streams(self, worker_id: str | None = None) -> list[dict[str, Any]]:
        """Fresh status messages (of ``worker_id``'s streams only, if given), sorted by camera and stream."""
        fresh = self._fresh(self._streams)
        return [m for _, m in sorted(fresh.items()) if worker_id is None or m.get("worker_id") == worker_id]

    def cameras(self) -> dict[str, dict[str, dict[str, Any]]]:
        """``{camera_id: {stream: status message}}`` of the fresh statuses."""
        cameras: dict[str, dict[str, dict[str, Any]]] = {}
        for message in self.streams():
            cameras.setdefault(message["camera_id"], {})[message.get("stream", "main")] = message
        return cameras

    def recording(self, worker_id: str | None = None) -> dict[str, dict[str, Any]]:
        """``{camera_id: recording health}``: the worker's message plus ``state`` and ``seconds_since_segment``.

        ``state`` is ``"ok"``, ``"waiting"`` (no segment finished yet), ``"stalled"`` (no segment
        finished for two segment lengths plus 30 s) or ``"low"`` (recent bytes per minute below half
        the camera's normal).
        """
        now = self.clock()
        health = {}
        for camera_id, message in self._fresh(self._recording).items():
            if worker_id is not None and message.get("worker_id") != worker_id:
                continue
            health[camera_id] = {**message, **recording_state(message, now)}
        return dict(sorted(health.items()))

    def viewers(self, worker_id: str | None = None) -> dict[str, int]:
        """Live viewers by camera, summed over the workers heard from lately (or of ``worker_id`` only)."""
        counts: dict[str, int] = {}
        for worker, message in self._fresh(self._viewers).items():
            if worker_id is not None and worker != worker_id:
                continue
            for camera_id, viewers in message["viewers"].items():
                counts[camera_id] = counts.get(camera_id, 0) + int(viewers)
        return dict(sorted(counts.items()))

    def _fresh(self, table: dict[Any, tuple[float, dict[str, Any]]]) -> dict[Any, dict[str, Any]]:
        limit = self.clock() - self.expire_seconds
        with self._lock:
            for key in [k for k, (received, _) in table.items() if received < limit]:
                del table[key]
            return {key: message for key, (_, message) in table.items()}


def recording_state(message: dict[str, Any], now: float) -> dict[str, Any]:
    """``state`` and ``seconds_since_segment`` of one ``RECORDING_TOPIC`` message at ``now`` (epoch s)."""
    last = message.get("last_segment_at")
    since = None if last is None else round(now - float(last), 1)
    segment_seconds = float(message.get("segment_seconds") or 60.0)
    started = float(message.get("started_at") or now)
    normal = message.get("normal_bytes_per_minute")
    if since is None:
        # A first segment closes after one segment length; longer than the stall limit is a stall too.
        state = "stalled" if now - started > 2 * segment_seconds + 30 else "waiting"
    elif since > 2 * segment_seconds + 30:
        state = "stalled"
    elif normal and float(message.get("bytes_per_minute") or 0.0) < LOW_RATE_SHARE * float(normal):
        state = "low"
    else:
        state = "ok"
    return {"state": state, "seconds_since_segment": since}
