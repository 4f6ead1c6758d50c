"""Keep one detection pipeline per camera of a stream worker, plus camera health and event upkeep.

The manager is an output of the worker's camera pipelines (``worker.add_output(manager)``): a
pipeline attached is analysed at once, a pipeline detached stops its detection. It also follows
each camera's detection settings (the API announces changes on the bus; a periodic sync catches
what was missed). Event retention runs here too, so events are cleaned by the process that
writes them.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

from streams.detect import build_detectors
from streams.detect.decode import FrameDecoder
from streams.detect.health import CameraHealth
from vms.background import Periodic
from vms.bus import Bus
from vms.bus.base import Listener
from vms.config import Settings
from vms.db import Database
from streams.detect.pipeline import DetectionPipeline
from streams.fanout import PacketFanout, PacketQueue
from streams.pipeline import CameraPipeline
from vms.config.detection import CameraDetection
from vms.events.configs import CONFIG_TOPIC, DetectionSettings
from vms.events.recorder import EventRecorder
from vms.events.retention import EventRetention
from vms.events.webhooks import WebhookDispatcher

log = logging.getLogger(__name__)

SYNC_SECONDS = 2.0
CONFIG_REFRESH_SECONDS = 60.0
RETENTION_SECONDS = 3600.0


@dataclass
class _Running:
    camera_pipeline: CameraPipeline
    config: CameraDetection
    fanout: PacketFanout
    queue: PacketQueue
    detection: DetectionPipeline


class DetectionManager(Periodic):
    """Detection for every attached camera pipeline, with camera health, webhooks and event retention."""
    def __init__(self, config: Settings, db: Database, bus: Bus, worker_id: str,
                 recorder: EventRecorder | None = None, settings: DetectionSettings | None = None,
                 statuses: Callable[[Listener], Callable[[], None]] | None = None) -> None:
        """``recorder`` receives the events (default: straight into ``db``); ``settings`` gives each
        camera's effective detection configuration (default: ``config.detection`` plus the database);
        ``statuses`` feeds camera health the worker's own statuses (``StreamWorker.add_status_listener``;
        default: the bus)."""
        super().__init__("detection-manager", SYNC_SECONDS)
        self.config = config
        self.bus = bus
        self.webhooks = WebhookDispatcher(config.events.webhooks)
        self.recorder = recorder or EventRecorder(
            db, bus, config.data_dir, config.events, worker_id, listeners=[self.webhooks]
        )
        self.settings = settings or DetectionSettings(db, config.detection, bus, config.models_dir)
        self.health = CameraHealth(bus, self.recorder, config.detection.offline_after_seconds, worker_id,
                                   statuses=statuses)
        self.retention = EventRetention(db, config.data_dir, config.events)
        self.pipelines: dict[str, CameraPipeline] = {}  # attached camera pipelines, by camera id
        self.running: dict[str, _Running] = {}
        self._configs: dict[str, CameraDetection | None] = {}
        self._configs_at = 0.0
        self._lock = threading.Lock()
        self._remove_listener = None
        self._last_retention = 0.0

    def start(self) -> "DetectionManager":
        """Close events a previous run left open, start webhooks and health, analyse the attached cameras."""
        closed = self.recorder.close_orphans()
        if closed:
            log.info("ended %d events left open by the previous run", closed)
        self.webhooks.start()
        self.health.start()
        self._remove_listener = self.bus.add_listener(CONFIG_TOPIC, self._config_changed)
        self.sync()
        super().start()
        return self

    def attach(self, pipeline: CameraPipeline) -> None:
        """A camera pipeline started: analyse it (the manager's thread starts it right away; building
        detectors may load a model, which must not hold up the worker)."""
        with self._lock:
            self.pipelines[pipeline.spec.id] = pipeline
        self.wake()

    def detach(self, pipeline: CameraPipeline) -> None:
        """A camera pipeline stopped: stop its detection before its fan-out goes away."""
        with self._lock:
            if self.pipelines.get(pipeline.spec.id) is not pipeline:
                return
            del self.pipelines[pipeline.spec.id]
            item = self.running.get(pipeline.spec.id)
            if item is not None and item.camera_pipeline is pipeline:
                self._stop_one(self.running.pop(pipeline.spec.id))

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every camera's detection, then health and webhooks (``timeout`` s for the manager's thread)."""
        if self._remove_listener is not None:
            self._remove_listener()
        super().stop(timeout)
        with self._lock:
            running, self.running = list(self.running.values()), {}
        for item in running:
            self._stop_one(item)
        self.health.stop()
        self.webhooks.stop()

    def sync(self) -> None:
        """Start, restart or stop detection so it matches the attached cameras and their settings."""
        with self._lock:
            pipelines = dict(self.pipelines)
            if time.monotonic() - self._configs_at > CONFIG_REFRESH_SECONDS:
                self._configs.clear()
                self._configs_at = time.monotonic()
            for camera_id, item in list(self.running.items()):
                config = self._config(camera_id)
                if pipelines.get(camera_id) is not item.camera_pipeline or config != item.config or not item.detection.running:
                    self._stop_one(self.running.pop(camera_id))
            for camera_id, camera_pipeline in pipelines.items():
                if camera_id in self.running:
                    continue
                config = self._config(camera_id)
                if config is not None:
                    try:
                        self.running[camera_id] = self._start_one(camera_pipeline, config)
                    except Exception:
                        log.exception("camera %s: detection could not start", camera_id)

    def stats(self) -> dict[str, dict]:
        """By camera: the stream analysed, decode mode, fps, frames, drops, decode errors and events raised."""
        with self._lock:
            return {
                camera_id: {
                    "stream": item.fanout.stream,
                    "decode": item.config.decode,
                    "fps": item.config.fps,
                    "frames": item.detection.stats.frames,
                    "dropped_frames": item.detection.stats.dropped_frames,
                    "dropped_packets": item.detection.dropped_packets,
                    "decode_errors": item.detection.decoder.stats.errors,
                    "events": item.detection.stats.events,
                }
                for camera_id, item in self.running.items()
            }

    # -- internals ----------------------------------------------------------------------------

    def _config(self, camera_id: str) -> CameraDetection | None:
        if camera_id not in self._configs:
            try:
                self._configs[camera_id] = self.settings.effective(camera_id)
            except Exception:
                log.exception("camera %s: detection settings unreadable; detection off", camera_id)
                self._configs[camera_id] = None
        return self._configs[camera_id]

    def _config_changed(self, topic: str, message: dict) -> None:
        with self._lock:
            self._configs.pop(message.get("camera_id"), None)
        self.wake()

    def _start_one(self, camera_pipeline: CameraPipeline, config: CameraDetection) -> _Running:
        spec = camera_pipeline.spec
        stream = spec.analysed_stream(config.stream)
        if config.stream == "sub" and not spec.sub_url:
            log.warning("camera %s: detection asks for the sub-stream but there is none; using main", spec.id)
        fanout = camera_pipeline.fanout(stream)
        queue = fanout.subscribe("detection", self.config.ingest.consumer_queue_packets)
        try:
            detectors = build_detectors(config)
        except Exception as exc:  # e.g. the object model cannot be loaded: run the rest
            log.error("camera %s: %s; detecting without the object model", spec.id, exc)
            detectors = build_detectors(config.model_copy(update={"objects": None}))
        decoder = FrameDecoder(spec.id, config.fps, config.decode == "keyframes", config.analysis_width)
        events = self.config.events
        detection = DetectionPipeline(
            spec.id, queue, decoder, detectors, self.recorder, events.snapshot_width, events.snapshot_quality
        ).start()
        log.info("camera %s: detection on the %s stream (%s decode at %g fps, %s)", spec.id, stream, config.decode,
                 config.fps, ", ".join(d.name for d in detectors))
        return _Running(camera_pipeline, config, fanout, queue, detection)

    @staticmethod
    def _stop_one(item: _Running) -> None:
        item.fanout.unsubscribe(item.queue)
        item.detection.stop()

    def tick(self) -> None:
        """Sync detection with the attached cameras; run event retention hourly."""
        try:
            self.sync()
        except Exception:
            log.exception("detection sync failed")
        if time.monotonic() - self._last_retention >= RETENTION_SECONDS:
            self._last_retention = time.monotonic()
            self.retention.run_once()
