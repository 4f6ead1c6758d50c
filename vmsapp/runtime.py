"""What one vms process runs: settings, database, bus and (unless API-only) a stream worker.

The same code serves both modes; ``build`` wires the difference once:

* all in one (no ``redis_url``): the live hub runs on the web server's loop (``LocalLive``),
  detectors write events straight to the database (``EventRecorder``);
* the embedded ``vms run`` (``local_bus``, set by ``vmsapp.supervisor``): its worker process
  serves live video over the local bus like a scale-out worker, its API process reaches it
  through ``RemoteLive`` with ``OneWorker`` as the camera directory;
* scale-out (``redis_url``): the API reaches live video through the camera's worker over the bus
  (``RemoteLive``); a worker's hub runs on a loop thread of its own and answers ``live.*`` RPC
  requests; detectors queue events durably and every worker also consumes the queue into the
  database (``QueuedEventSink`` / ``EventStoreConsumer``), which publishes them on the bus for
  every API's event feed. Playback reads each segment from its worker's folder (``SegmentFiles``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from streams.live.hub import LiveHub
from streams.live.local import LocalLive
from streams.search.keyframes import KeyframeMotion
from streams.search.thumbnail import keyframe_jpeg
from vms.alarms import AlarmRules, AlarmService
from vms.bus import Bus, bus_from_url
from vms.cameras.probe import ProbeResult
from vms.cameras.registry import CameraRegistry
from vms.cameras.status import StatusBoard
from vms.cluster.events import EventStoreConsumer
from vms.config import Settings
from vms.db import Database
from vms.db.secure import open_private_database
from vms.live.gateway import LiveGateway, NoLive
from vms.recordings.locate import SegmentFiles
from vms.recordings.motion_search import MotionSearches
from vms.recordings.pictures import Pictures
from vmsapp.detection import DetectionManager
from vmsapp.live_remote import LiveLoop, RemoteLive, serve_live
from vmsapp.worker import StreamWorker

log = logging.getLogger(__name__)


class OneWorker:
    """The camera directory of the embedded mode: one worker records every camera."""

    def __init__(self, worker_id: str) -> None:
        self.worker_id = worker_id

    def holder(self, camera_id: str) -> str:
        return self.worker_id

    def live(self) -> list[str]:
        return [self.worker_id]


def hub_viewers(hub: LiveHub) -> dict[str, int]:
    """Live viewers of ``hub`` by camera, summed over its streams (main, sub)."""
    counts: dict[str, int] = {}
    for relay in hub.describe().get("relays", []):
        counts[relay["camera_id"]] = counts.get(relay["camera_id"], 0) + int(relay.get("viewers", 0))
    return counts


@dataclass
class Runtime:
    settings: Settings
    db: Database
    bus: Bus
    worker: StreamWorker | None = None
    live: LiveHub | None = None  # WebRTC viewers of this process's cameras (needs the worker)
    detection: DetectionManager | None = None  # events of this process's cameras (needs the worker)
    gateway: LiveGateway = field(default_factory=NoLive)  # how the API reaches live video of any camera
    files: SegmentFiles | None = None  # where any worker's segment files are
    live_loop: LiveLoop | None = None  # the hub's own loop, when no web server lends it one (scale-out)
    event_store: EventStoreConsumer | None = None  # queued events into the database (scale-out)
    board: StatusBoard = field(default_factory=lambda: StatusBoard(None))  # camera status from every worker
    alarms: AlarmService | None = None  # raises alarms from events and escalates them
    searches: MotionSearches | None = None  # motion searches in recordings, in the background
    pictures: Pictures | None = None  # a recorded picture at a moment (timeline thumbnails)

    def __post_init__(self) -> None:
        if self.files is None:
            self.files = SegmentFiles.of(self.settings)
        if self.searches is None:
            self.searches = MotionSearches(self.db, self.files, KeyframeMotion)
        if self.pictures is None:
            self.pictures = Pictures(self.db, self.files, keyframe_jpeg)

    @classmethod
    def build(cls, settings: Settings, with_worker: bool = True) -> "Runtime":
        db = open_private_database(settings)
        CameraRegistry(db).sync_from_config(settings.groups, settings.cameras)
        bus = bus_from_url(settings.bus_url, settings.cluster.key_prefix)
        board = StatusBoard(bus).start()  # before the worker: it hears the first statuses too
        worker = StreamWorker(settings, db, bus) if with_worker else None
        live = LiveHub(settings.live, settings.ingest.consumer_queue_packets, bus) if worker is not None else None
        if worker is not None and live is not None:
            worker.add_output(live)
            worker.live_viewers = lambda: hub_viewers(live)  # heartbeats carry them to every API's board
        runtime = cls(settings, db, bus, worker, live, board=board)
        AlarmRules(db).sync_from_config(settings.alarms.rules)
        if settings.alarms.enabled:
            runtime.alarms = AlarmService(db, bus, settings.alarms)
        if settings.redis_url:
            runtime.gateway = RemoteLive.connect(bus, settings.redis_url, settings.cluster.key_prefix)
            if worker is not None:
                runtime._scale_out_worker()
        elif settings.local_bus:
            # The embedded vms run's API and worker processes (vmsapp.supervisor): one worker, "local".
            only = OneWorker(settings.worker_id or "local")
            runtime.gateway = RemoteLive(bus, leases=only, members=only)
            if worker is not None:
                runtime.live_loop = LiveLoop()
                serve_live(worker.rpc, live, runtime.live_loop.loop)
                runtime.detection = DetectionManager(settings, db, bus, worker.worker_id,
                                                     statuses=worker.add_status_listener)
                worker.add_output(runtime.detection)
        else:
            runtime.gateway = LocalLive(live) if live is not None else NoLive()
            if worker is not None:
                runtime.detection = DetectionManager(settings, db, bus, worker.worker_id,
                                                     statuses=worker.add_status_listener)
                worker.add_output(runtime.detection)
        return runtime

    def _scale_out_worker(self) -> None:
        from vms.bus.streams import durable_queue
        from vms.cluster.events import EVENTS_STREAM, STORE_GROUP, QueuedEventSink

        settings, worker = self.settings, self.worker
        self.live_loop = LiveLoop()
        serve_live(worker.rpc, self.live, self.live_loop.loop)
        queue = durable_queue(settings.bus_url, EVENTS_STREAM, STORE_GROUP, prefix=settings.cluster.key_prefix)
        sink = QueuedEventSink(queue, worker.worker_id, settings.data_dir, self.db)
        self.detection = DetectionManager(settings, self.db, self.bus, worker.worker_id, recorder=sink,
                                          statuses=worker.add_status_listener)
        worker.add_output(self.detection)
        self.event_store = EventStoreConsumer(
            self.db, queue, worker.worker_id, settings.events, self.bus, listeners=[self.detection.webhooks]
        )

    def probe(self, url: str, username: str | None, password: str | None, seconds: float,
              transport: str = "auto") -> ProbeResult:
        """Probe a camera (``dashboard.services.Services.probe``)."""
        from streams.probe import probe_url

        return probe_url(url, username, password, seconds=seconds, snapshot=True, transport=transport)

    def viewers(self) -> dict[str, int]:
        """Live viewers by camera (``dashboard.services.Services.viewers``): this process's hub when it
        has one, else what the workers' heartbeats told the status board (an API process of ``vms
        run`` or of scale-out has no hub; its /metrics showed 0 viewers before)."""
        if self.live is not None:
            return hub_viewers(self.live)
        return self.board.viewers()

    def start(self) -> "Runtime":
        """Start every part. Raises ``vms.cluster.identity.DuplicateWorker`` before starting any
        when another live worker has this worker's id."""
        if self.worker is not None:
            self.worker.ownership.check_identity()  # before the live loop and the worker's repair
        if self.alarms is not None:
            self.alarms.start()  # before detection, so no event goes unheard
        if self.live_loop is not None:
            self.live_loop.start()
            self.live_loop.run(self.live.start())
        if self.worker is not None:
            self.worker.start()
        if self.event_store is not None:
            self.event_store.start()
        if self.detection is not None:
            self.detection.start()
        return self

    def stop(self) -> None:
        if self.worker is not None:
            # First of all, while everything still runs: the other workers take this one's
            # cameras (vms.cluster.ownership.drain); stopping live view and detection first
            # let the keeper claim more cameras for 1.4-2.2 s of a stop (a new user's trial).
            self.worker.drain()
        if self.live_loop is not None:
            try:
                self.live_loop.run(self.live.aclose(), 15)
            except Exception:
                log.exception("closing the live hub failed")
            self.live_loop.stop()
        elif self.live is not None:
            self.live.close()
        if self.detection is not None:
            self.detection.stop()
        if self.event_store is not None:
            self.event_store.stop()
            self.event_store.runner.queue.close()  # after detection: nothing is queued any more
        if self.worker is not None:
            self.worker.stop()
        if self.alarms is not None:
            self.alarms.stop()
        if self.searches is not None:
            self.searches.shutdown()
        self.board.stop()
        self.bus.close()
        self.db.dispose()
