"""A stream worker: runs the pipelines of its cameras, repairs and cleans up their recordings.

In the all-in-one ``vms run`` one worker owns every enabled camera. The worker re-reads the
registry periodically, so cameras added, edited or removed while it runs are picked up.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from streams.pipeline import CameraPipeline
from streams.status import StreamStatus
from vms.bus import Bus
from vms.cameras.registry import CameraRegistry, CameraSpec
from vms.config import Settings
from vms.db import Database
from vms.recordings.index import SegmentIndex
from vms.recordings.repair import repair_unfinished
from vms.recordings.retention import Retention

log = logging.getLogger(__name__)

STATUS_TOPIC = "camera.status"
RELOAD_SECONDS = 10.0


class StreamWorker:
    def __init__(self, settings: Settings, db: Database, bus: Bus, worker_id: str | None = None) -> None:
        self.settings = settings
        self.db = db
        self.bus = bus
        self.worker_id = worker_id or settings.worker_id or "local"
        self.recordings_dir: Path = settings.recordings_dir
        self.index = SegmentIndex(db, self.worker_id)
        self.registry = CameraRegistry(db)
        self.retention = Retention(db, self.recordings_dir, settings.storage)
        self.pipelines: dict[str, CameraPipeline] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._urgent = threading.Event()
        self._maintenance = threading.Thread(target=self._maintain, name="worker-maintenance", daemon=True)

    def start(self) -> "StreamWorker":
        self.recordings_dir.mkdir(parents=True, exist_ok=True)
        repair_unfinished(self.index, self.recordings_dir)
        self.reload_cameras()
        self._maintenance.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._maintenance.join(10)
        with self._lock:
            pipelines, self.pipelines = list(self.pipelines.values()), {}
        for pipeline in pipelines:
            pipeline.stop()

    def reload_cameras(self) -> None:
        """Start pipelines of new or changed cameras and stop those of removed ones."""
        wanted = {spec.id: spec for spec in self.registry.enabled_specs()}
        with self._lock:
            for camera_id in [cid for cid, p in self.pipelines.items() if wanted.get(cid) != p.spec]:
                self.pipelines.pop(camera_id).stop()
            for camera_id, spec in wanted.items():
                if camera_id not in self.pipelines:
                    self.pipelines[camera_id] = self._pipeline(spec).start()

    def _pipeline(self, spec: CameraSpec) -> CameraPipeline:
        return CameraPipeline(
            spec,
            self.settings.ingest,
            self.index,
            self.recordings_dir,
            on_status=self._publish_status,
            on_storage_error=self._storage_error,
        )

    def pipeline(self, camera_id: str) -> CameraPipeline:
        with self._lock:
            return self.pipelines[camera_id]

    def statuses(self) -> list[StreamStatus]:
        with self._lock:
            return [status for pipeline in self.pipelines.values() for status in pipeline.statuses()]

    def _publish_status(self, status: StreamStatus) -> None:
        message = status.to_message()
        message["worker_id"] = self.worker_id
        self.bus.publish(STATUS_TOPIC, message)

    def _storage_error(self, message: str) -> None:
        # A full disk is fixed by deleting the oldest recordings now, not at the next interval.
        self._urgent.set()
        self._wake.set()

    def _maintain(self) -> None:
        interval = self.settings.storage.cleanup_interval_seconds
        since_reload = 0.0
        while not self._stop.is_set():
            urgent = self._urgent.is_set()
            self._urgent.clear()
            try:
                self.retention.run_once(urgent=urgent)
            except Exception:
                log.exception("retention pass failed")
            woke = self._wake.wait(min(interval, RELOAD_SECONDS))
            self._wake.clear()
            since_reload += 0 if woke else min(interval, RELOAD_SECONDS)
            if since_reload >= RELOAD_SECONDS and not self._stop.is_set():
                since_reload = 0.0
                try:
                    self.reload_cameras()
                except Exception:
                    log.exception("reloading cameras failed")
