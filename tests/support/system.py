"""Build a real worker (SQLite, in-process bus) recording from a real simulator."""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from vms.cameras.status import STATUS_TOPIC
from vmsapp.worker import StreamWorker
from vms.bus.memory import MemoryBus
from vms.cameras.registry import CameraRegistry
from vms.config import Settings
from vms.config.storage import IngestConfig
from vms.db import Database

FAST_INGEST = {
    "open_timeout_seconds": 5,
    "read_timeout_seconds": 3,
    "backoff_initial_seconds": 0.5,
    "backoff_max_seconds": 2,
    # The product's default RTSP client (not a copy of it: a test run checks what ships);
    # VMS_TEST_RTSP_CLIENT=builtin (or ffmpeg) runs every worker test through that client
    # (the camera-quirk suite: tests/test_recording_rtsp.py, test_camera_clocks.py, ...).
    "rtsp_client": os.environ.get("VMS_TEST_RTSP_CLIENT", IngestConfig().rtsp_client),
    "read_interval_seconds": float(os.environ.get("VMS_TEST_READ_INTERVAL", "0.05")),
}
# For tests that stall a camera on purpose (up to 4 s) and expect a burst, not a reconnect:
# FFmpeg enforces the read timeout strictly on streams read without its parser (B-frames).
STALL_TOLERANT_INGEST = {**FAST_INGEST, "read_timeout_seconds": 8}


def camera_entry(simulator, camera_id: str, group: str = "tunnel", segment_seconds: float = 60, **extra) -> dict:
    entry = {
        "id": camera_id,
        "name": f"Camera {camera_id}",
        "group": group,
        "main_url": simulator.url(camera_id),
        "recording": {"segment_seconds": segment_seconds},
    }
    entry.update(extra)
    return entry


def make_settings(data_dir: Path, cameras: list[dict], **overrides) -> Settings:
    values = {
        "data_dir": data_dir,
        "ingest": FAST_INGEST,
        "storage": {"min_free": 0},
        # Simulated cameras run on 127.0.0.1; vms denies loopback cameras unless told (test_attacks_probe).
        "security": {"camera_addresses": {"allow": ["127.0.0.0/8"]}},
        "cameras": cameras,
    }
    values.update(overrides)
    return Settings(**values)


class StatusLog:
    """Every camera.status message, with a way to wait for a state."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self._cond = threading.Condition()

    def __call__(self, topic: str, message: dict) -> None:
        with self._cond:
            self.messages.append(dict(message))
            self._cond.notify_all()

    def states(self, camera_id: str) -> list[str]:
        with self._cond:
            states = [m["state"] for m in self.messages if m["camera_id"] == camera_id]
        # Collapse repeats: the sequence of distinct states is what tests reason about.
        return [s for i, s in enumerate(states) if i == 0 or states[i - 1] != s]

    def wait_for(self, predicate: Callable[[dict], bool], timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for message in self.messages:
                    if predicate(message):
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no status matched within {timeout} s; saw {self.messages[-5:]}")
                self._cond.wait(remaining)

    def wait_state(self, camera_id: str, state: str, timeout: float = 15, after: int = 0) -> dict:
        return self.wait_for(
            lambda m: m["camera_id"] == camera_id and m["state"] == state and self.messages.index(m) >= after,
            timeout,
        )


@contextmanager
def running_worker(
    settings: Settings, before_start: Callable[[StreamWorker], None] = lambda worker: None
) -> Iterator[tuple[StreamWorker, StatusLog]]:
    db = Database(settings.effective_database_url)
    db.create_schema()
    CameraRegistry(db).sync_from_config(settings.groups, settings.cameras)
    bus = MemoryBus()
    statuses = StatusLog()
    bus.add_listener(STATUS_TOPIC, statuses)
    worker = StreamWorker(settings, db, bus)
    before_start(worker)
    worker.start()
    try:
        yield worker, statuses
    finally:
        worker.stop()
        db.dispose()
