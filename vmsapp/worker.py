"""A stream worker: runs the pipelines of its cameras, repairs and cleans up their recordings.

Outputs attach to the worker (``add_output``): each is attached to every pipeline the worker
starts and detached when it stops. The recorder is the first; the live hub and detection follow.

In the all-in-one ``vms run`` one worker owns every enabled camera. With ``redis_url`` set,
several workers share the cameras through Redis leases (``vms.cluster.ownership``): a worker runs
the pipelines of the cameras it owns, and starts or stops them as soon as its ownership changes.
With ``cluster.standby_seconds`` set, a worker also pulls the cameras it stands by for
(``ownership.standby()``) with no output attached, keeping a pre-roll ring; when it gets such a
camera it attaches the outputs to the running pipeline (``promote``), and a camera it no longer
holds but stands by for keeps its pull with the outputs detached (``demote``).
The worker re-reads the registry periodically, so cameras added, edited or removed while it runs
are picked up. Index writes go through ``BufferedSegmentIndex``, so a database outage costs no rows.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path
from typing import Callable

from streams.pipeline import CameraPipeline, PipelineOutput
from streams.recording import Recording
from streams.status import StreamStatus
from vms.background import Periodic
from vms.bus import Bus
from vms.bus.base import Listener
from vms.bus.rpc import RpcServer, worker_service
from vms.cameras.registry import CameraRegistry, CameraSpec
from vms.cameras.status import STATUS_TOPIC
from vms.cluster.ownership import ownership_for
from vms.cluster.retention import WorkerRetention
from vms.config import Settings
from vms.db import Database
from vms.recordings.buffered_index import BufferedSegmentIndex
from vms.recordings.locate import SegmentFiles, worker_recordings_dir
from vms.recordings.repair import repair_abandoned, repair_unfinished
from vms.recordings.retention import Retention
from vmsapp.heartbeat import StatusHeartbeat

log = logging.getLogger(__name__)

RELOAD_SECONDS = 10.0


class StreamWorker:
    def __init__(self, settings: Settings, db: Database, bus: Bus, worker_id: str | None = None) -> None:
        self.settings = settings
        self.db = db
        self.bus = bus
        # Scale-out workers need distinct, stable names: their index rows and storage carry them.
        self.worker_id = worker_id or settings.worker_id or (socket.gethostname() if settings.redis_url else "local")
        self.ownership = ownership_for(settings, self.worker_id, on_change=self.reconcile)
        self.recordings_dir: Path = worker_recordings_dir(settings, self.worker_id)
        self.files = SegmentFiles.of(settings)  # any worker's segments (repair of dead workers' ones)
        journal = settings.data_dir / f"index-journal-{self.worker_id}.jsonl"
        self.index = BufferedSegmentIndex(db, self.worker_id, journal, may_record=self.ownership.holds)
        self.registry = CameraRegistry(db)
        if settings.redis_url:
            self.retention = WorkerRetention(db, self.recordings_dir, settings.storage, self.worker_id,
                                             live_workers=self._live_workers, folder_of=self.files.folder)
        else:
            self.retention = Retention(db, self.recordings_dir, settings.storage)
        self._specs: dict[str, CameraSpec] = {}
        self._repaired = False
        # Requests for this worker from other processes (WHEP signaling for its cameras, status).
        self.rpc = RpcServer(bus, worker_service(self.worker_id))
        self.rpc.register("describe", lambda params: self.describe())
        self.pipelines: dict[str, CameraPipeline] = {}
        self.recording = Recording(self.index, self.recordings_dir, settings.ingest.consumer_queue_packets,
                                   on_storage_error=self._storage_error)
        self._outputs: list[PipelineOutput] = [self.recording]
        # Live viewers by camera of the hub fed by this worker (set by the runtime that attaches one).
        self.live_viewers: Callable[[], dict[str, int]] | None = None
        self.heartbeat = StatusHeartbeat(self)
        self._open_gate = threading.BoundedSemaphore(settings.ingest.concurrent_opens)
        self._lock = threading.Lock()
        self._publish_lock = threading.Lock()
        # This process's own listeners of its statuses (camera health), told directly: over a Redis
        # bus a status published during an outage would never come back to them.
        self._status_listeners: list[Listener] = []
        self._stop = threading.Event()
        self.maintenance = _Maintenance(self)

    def add_output(self, output: PipelineOutput) -> None:
        """Feed ``output`` from every camera pipeline of this worker, running now or started later."""
        with self._lock:
            self._outputs.append(output)
            for pipeline in self.pipelines.values():
                pipeline.add_output(output)

    def start(self) -> "StreamWorker":
        """Start recording. Raises ``vms.cluster.identity.DuplicateWorker`` (before touching any
        recording) when another live worker runs under this worker's id."""
        self.ownership.check_identity()  # before the repair: its open segments would look like ours
        self.recordings_dir.mkdir(parents=True, exist_ok=True)
        self.index.start()  # replays a journal left while the database was down
        self._repair()
        self._read_registry()
        self.ownership.start()
        self.reconcile()
        self.maintenance.start()
        self.heartbeat.start()
        self.rpc.start()
        return self

    def drain(self) -> int:
        """Hand every camera over to the other workers before stopping (at most
        ``cluster.drain_seconds``); returns how many were not taken. Another worker takes each
        camera while this one still records it (a duplicate for the hand-over, never a hole);
        the pipelines handed over stop as their hand-overs end. Idempotent."""
        return self.ownership.drain(self.settings.cluster.drain_seconds)

    def stop(self) -> None:
        self.drain()  # a no-op when the runtime drained already
        self.rpc.close()
        self.heartbeat.stop()
        self._stop.set()
        self.maintenance.stop(10)
        with self._lock:
            pipelines, self.pipelines = list(self.pipelines.values()), {}
        _stop_all(pipelines)
        self.ownership.stop()  # after the pipelines: the next owner starts on a closed segment
        self.index.stop()

    def reload_cameras(self) -> None:
        """Re-read the registry, then start and stop pipelines to match it."""
        self._read_registry()
        self.reconcile()

    def _read_registry(self) -> None:
        specs = {spec.id: spec for spec in self.registry.enabled_specs()}
        with self._lock:
            self._specs = specs
        self.ownership.set_cameras(specs)

    def reconcile(self) -> None:
        """Run pipelines for the enabled cameras this worker owns, standby pipelines (ingest only)
        for those it stands by for and records, and none for any other camera."""
        if self._stop.is_set():
            return
        owned = self.ownership.owned()
        standby = self.ownership.standby() - owned
        with self._lock:
            wanted = {cid: spec for cid, spec in self._specs.items() if cid in owned}
            # A camera that is not recorded has no recording to take over.
            wanted.update({cid: spec for cid, spec in self._specs.items() if cid in standby and spec.recording_enabled})
            stale = [self.pipelines.pop(cid) for cid, p in list(self.pipelines.items())
                     if cid not in wanted or wanted[cid].source() != p.spec.source()]
            for camera_id, pipeline in self.pipelines.items():
                pipeline.spec = wanted[camera_id]  # a rename or a new group: no restart
            _stop_all(stale)  # in parallel: a lost lease must stop every camera within its guard time
            # Taken over: the outputs attach to the running pull (the recorder starts from its pre-roll).
            for pipeline in self.pipelines.values():
                if pipeline.standby and pipeline.spec.id in owned:
                    pipeline.promote()
            # Held no more but stood by for: the recorders finish, the pull goes on (in parallel).
            _run_all([p for p in self.pipelines.values() if not p.standby and p.spec.id not in owned], "demote")
            for camera_id, spec in wanted.items():
                if camera_id not in self.pipelines:
                    self.pipelines[camera_id] = self._pipeline(spec).start(standby=camera_id not in owned)

    def _repair(self) -> None:
        try:
            repair_unfinished(self.index, self.recordings_dir)
            self._repaired = True
        except Exception:
            log.exception("repairing unfinished segments failed (database down?); retrying later")

    def _live_workers(self) -> set[str] | None:
        """The workers alive now, or None when nobody can tell (one process, Redis unreachable)."""
        live_workers = getattr(self.ownership, "live_workers", None)
        if not live_workers or not self.ownership.redis_ok:
            return None
        return set(live_workers) | {self.worker_id}

    def _repair_abandoned(self) -> None:
        """Close what dead workers left open, so playback and export reach the moment they died."""
        live_workers = self._live_workers()
        if live_workers is None:
            return
        quiet = max(10.0, 2 * self.settings.cluster.lease_seconds)
        try:
            repair_abandoned(self.index, self.files, live_workers, quiet)
        except Exception:
            log.exception("repairing segments of dead workers failed; retrying later")

    def _pipeline(self, spec: CameraSpec) -> CameraPipeline:
        cluster = self.settings.cluster
        pipeline = CameraPipeline(spec, self.settings.ingest, on_status=lambda s: self._stream_status(pipeline, s),
                                  outputs=self._outputs, open_gate=self._open_gate,
                                  preroll=(cluster.standby_seconds, cluster.standby_max_bytes))
        return pipeline

    def _stream_status(self, pipeline: CameraPipeline, status: StreamStatus) -> None:
        # A standby's pull is not the camera's status: the holder's is (the board keeps one per stream).
        if not pipeline.standby:
            self.publish_status(status)

    def pipeline(self, camera_id: str) -> CameraPipeline:
        with self._lock:
            return self.pipelines[camera_id]

    def statuses(self) -> list[StreamStatus]:
        """The streams of the cameras this worker records (not its standby pulls)."""
        with self._lock:
            return [status for pipeline in self.pipelines.values() if not pipeline.standby
                    for status in pipeline.statuses()]

    def describe(self) -> dict:
        """This worker, its cameras and the index buffer (answered over RPC too).

        ``cameras``: those it records; ``standby``: those it pulls unrecorded, each with its
        pre-roll ring ``{"seconds", "packets", "bytes"}``; ``rtsp_sessions``: every pull, both kinds.
        """
        with self._lock:
            pipelines = dict(self.pipelines)
        standby = {cid: p for cid, p in pipelines.items() if p.standby}
        return {
            "worker_id": self.worker_id,
            "cameras": sorted(cid for cid in pipelines if cid not in standby),
            "standby": {cid: dict(zip(("seconds", "packets", "bytes"), p.preroll())) for cid, p in sorted(standby.items())},
            "rtsp_sessions": sum(len(p.statuses()) for p in pipelines.values()),
            "ownership": self.ownership.describe(),
            "index_pending": self.index.pending,
        }

    def add_status_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(STATUS_TOPIC, message)`` with each status this worker publishes, in this
        process, whether or not the bus is up; returns the function that removes it."""
        with self._publish_lock:
            self._status_listeners.append(listener)

        def remove() -> None:
            with self._publish_lock:
                if listener in self._status_listeners:
                    self._status_listeners.remove(listener)

        return remove

    def publish_status(self, status: StreamStatus) -> None:
        """Tell every status board (all processes, over the bus) and this process's own status
        listeners how ``status``'s stream is.

        Ingest threads and the heartbeat both publish; one lock keeps each snapshot-and-send in
        order, so a heartbeat never lands an older state after a newer one.
        """
        with self._publish_lock:
            message = status.to_message()
            message["worker_id"] = self.worker_id
            self.bus.publish(STATUS_TOPIC, message)
            for listener in self._status_listeners:
                try:
                    listener(STATUS_TOPIC, dict(message))
                except Exception:
                    log.exception("status listener failed")

    def _storage_error(self, camera_id: str, message: str) -> None:
        if not self.ownership.holds(camera_id):
            return  # refused because the lease is gone, not for lack of space
        # A full disk is fixed by deleting the oldest recordings now, not at the next interval.
        self.maintenance.urgent()



class _Maintenance(Periodic):
    """The worker's upkeep: a retention pass every few seconds (at once when the disk is full),
    and every ``RELOAD_SECONDS`` a registry re-read (plus the start-up repair, if it failed)."""

    def __init__(self, worker: StreamWorker) -> None:
        super().__init__("worker-maintenance", min(worker.settings.storage.cleanup_interval_seconds, RELOAD_SECONDS),
                         first_tick=True)
        self.worker = worker
        self._urgent = threading.Event()
        self._reloaded_at = time.monotonic()

    def urgent(self) -> None:
        """Run a retention pass now, deleting down to the free-space floor."""
        self._urgent.set()
        self.wake()

    def tick(self) -> None:
        worker = self.worker
        urgent = self._urgent.is_set()
        self._urgent.clear()
        try:
            worker.retention.run_once(urgent=urgent)
        except Exception:
            log.exception("retention pass failed")
        if time.monotonic() - self._reloaded_at < RELOAD_SECONDS or self.stopping:
            return
        self._reloaded_at = time.monotonic()
        if not worker._repaired:
            worker._repair()
        worker._repair_abandoned()
        try:
            worker.reload_cameras()
        except Exception:
            log.exception("reloading cameras failed")


def _stop_all(pipelines: list[CameraPipeline]) -> None:
    _run_all(pipelines, "stop")


def _run_all(pipelines: list[CameraPipeline], method: str) -> None:
    """``pipeline.<method>()`` of each, in parallel (each waits for its recorder's last segment)."""
    threads = [threading.Thread(target=getattr(p, method), name=f"{method}-{p.spec.id}") for p in pipelines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
