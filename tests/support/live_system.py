"""A whole vms process for live-view tests: runtime (worker, live hub) served by uvicorn."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from dashboard.app import create_app
from dashboard.runtime import Runtime
from streams.live import LiveHub
from tests.support.server import ServedApp, serve_app
from tests.support.system import make_settings

# Nothing listens on the discard port: ingest stays offline and tests feed the fan-out themselves.
NOWHERE = "rtsp://127.0.0.1:9/none"


@dataclass
class LiveSystem:
    runtime: Runtime
    served: ServedApp

    @property
    def url(self) -> str:
        return self.served.url

    @property
    def hub(self) -> LiveHub:
        assert self.runtime.live is not None
        return self.runtime.live

    def fanout(self, camera_id: str, stream: str = "main"):
        return self.runtime.worker.pipeline(camera_id).fanout(stream)


def offline_camera(camera_id: str, **extra) -> dict:
    entry = {"id": camera_id, "name": f"Camera {camera_id}", "group": "tunnel", "main_url": NOWHERE}
    entry["recording"] = {"enabled": False}
    entry.update(extra)
    return entry


@contextmanager
def live_system(data_dir: Path, cameras: list[dict], live: dict | None = None, **overrides) -> Iterator[LiveSystem]:
    settings = make_settings(data_dir, cameras, live=live or {}, **overrides)
    runtime = Runtime.build(settings).start()
    try:
        with serve_app(create_app(runtime)) as served:
            yield LiveSystem(runtime, served)
    finally:
        runtime.stop()
