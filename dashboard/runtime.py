"""What one vms process runs: settings, database, bus and (unless API-only) a stream worker."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from streams.detect.manager import DetectionManager
from streams.live.hub import LiveHub
from streams.worker import StreamWorker
from vms.bus import Bus, bus_from_url
from vms.cameras.registry import CameraRegistry
from vms.config import Settings
from vms.db import Database

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    bus: Bus
    worker: StreamWorker | None = None
    live: LiveHub | None = None  # WebRTC viewers of this process's cameras (needs the worker)
    detection: DetectionManager | None = None  # events of this process's cameras (needs the worker)

    @classmethod
    def build(cls, settings: Settings, with_worker: bool = True) -> "Runtime":
        db = Database(settings.effective_database_url)
        db.create_schema()
        CameraRegistry(db).sync_from_config(settings.groups, settings.cameras)
        bus = bus_from_url(settings.bus_url)
        worker = StreamWorker(settings, db, bus) if with_worker else None
        live = LiveHub(settings.live, worker) if worker is not None else None
        detection = DetectionManager(worker) if worker is not None else None
        return cls(settings, db, bus, worker, live, detection)

    def start(self) -> "Runtime":
        if self.worker is not None:
            self.worker.start()
        if self.detection is not None:
            self.detection.start()
        return self

    def stop(self) -> None:
        if self.live is not None:
            self.live.close()
        if self.detection is not None:
            self.detection.stop()
        if self.worker is not None:
            self.worker.stop()
        self.bus.close()
        self.db.dispose()
