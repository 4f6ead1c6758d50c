"""Prometheus metrics: counters kept as things happen, and camera gauges read at scrape time.

Counters live in the default registry (one per process). Camera gauges come from a
collector bound to one runtime, so nothing stale lingers when a camera is removed.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

HTTP_LATENCY = Histogram(
    "vms_http_request_duration_seconds",
    "Time to answer an HTTP request (streamed bodies: until the handler returned)",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
LOGINS = Counter("vms_logins_total", "Sign-in attempts", ["result"])  # ok, failed, locked
PLAYBACKS = Counter("vms_playback_requests_total", "Playback requests served")
EXPORTS = Counter("vms_exports_total", "Evidence exports requested")
# Raised by whoever stores events (the detection pipeline); labelled by event type.
EVENTS = Counter("vms_events_total", "Events raised", ["type"])


class RuntimeCollector(Collector):
    """Camera health, recording storage and live viewers of one process, read when scraped."""

    def __init__(self, statuses: Callable[[], Iterable[dict[str, Any]]], storage: Callable[[], dict[str, int]],
                 viewers: Callable[[], dict[str, int]], recording: Callable[[], dict[str, dict[str, Any]]] = dict[str, Any]) -> None:
        """``statuses``: stream status messages (``vms.cameras.status.StatusBoard.streams``);
        ``storage``: bytes recorded by camera; ``viewers``: live viewers by camera;
        ``recording``: recording health by camera (``StatusBoard.recording``)."""
        self._statuses = statuses
        self._storage = storage
        self._viewers = viewers
        self._recording = recording

    def collect(self) -> Iterable[Metric]:
        online = GaugeMetricFamily("vms_cameras_online", "Camera streams currently online")
        streams = GaugeMetricFamily("vms_camera_streams", "Camera streams run by this process")
        up = GaugeMetricFamily("vms_camera_up", "1 when the camera stream is online", labels=["camera", "stream"])
        fps = GaugeMetricFamily("vms_camera_fps", "Frames per second received", labels=["camera", "stream"])
        bitrate = GaugeMetricFamily("vms_camera_bitrate_bps", "Bits per second received", labels=["camera", "stream"])
        discontinuities = CounterMetricFamily(
            "vms_camera_discontinuities", "Discontinuities of the camera clock (or missing frames) detected at ingest",
            labels=["camera", "stream", "kind"],
        )
        statuses = list(self._statuses())
        count = 0
        for status in statuses:
            for kind, seen in sorted((status.get("discontinuities") or {}).items()):
                discontinuities.add_metric([status["camera_id"], status.get("stream", "main"), kind], float(seen))
            labels = [status["camera_id"], status.get("stream", "main")]
            is_up = status.get("state") == "online"
            count += is_up
            up.add_metric(labels, 1.0 if is_up else 0.0)
            fps.add_metric(labels, float(status.get("fps") or 0.0))
            bitrate.add_metric(labels, float(status.get("bitrate_bps") or 0.0))
        online.add_metric([], count)
        streams.add_metric([], len(statuses))
        stored = GaugeMetricFamily("vms_recording_bytes", "Bytes of recordings in the index", labels=["camera"])
        for camera_id, size in self._storage().items():
            stored.add_metric([camera_id], float(size))
        viewers = GaugeMetricFamily("vms_live_viewers", "Live (WebRTC) viewers", labels=["camera"])
        for camera_id, count_viewers in self._viewers().items():
            viewers.add_metric([camera_id], float(count_viewers))
        since = GaugeMetricFamily("vms_recording_seconds_since_segment",
                                  "Seconds since the camera's last segment was finished", labels=["camera"])
        rate = GaugeMetricFamily("vms_recording_bytes_per_minute", "Bytes recorded per minute, last 5 minutes",
                                 labels=["camera"])
        normal = GaugeMetricFamily("vms_recording_normal_bytes_per_minute",
                                   "Bytes recorded per minute, last hour (the camera's normal)", labels=["camera"])
        healthy = GaugeMetricFamily("vms_recording_ok", "1 when recording is neither stalled nor low", labels=["camera"])
        for camera_id, health in self._recording().items():
            if health.get("seconds_since_segment") is not None:
                since.add_metric([camera_id], float(health["seconds_since_segment"]))
            rate.add_metric([camera_id], float(health.get("bytes_per_minute") or 0.0))
            if health.get("normal_bytes_per_minute") is not None:
                normal.add_metric([camera_id], float(health["normal_bytes_per_minute"]))
            healthy.add_metric([camera_id], 0.0 if health.get("state") in ("stalled", "low") else 1.0)
        yield from (online, streams, up, fps, bitrate, discontinuities, stored, viewers, since, rate, normal, healthy)


class WorkerCollector(Collector):
    """Which cameras a scale-out worker records, hands over and stands by for, read when scraped.

    ``describe`` returns ``vmsapp.worker.StreamWorker.describe()``: ``cameras`` (recorded here,
    hand-overs included), ``standby`` (camera -> pre-roll ring ``{"seconds", "packets", "bytes"}``),
    ``rtsp_sessions`` and ``ownership.handing_over``.
    """

    ROLES = ("held", "handing_over", "standby")

    def __init__(self, describe: Callable[[], dict[str, Any]]) -> None:
        self._describe = describe

    def collect(self) -> Iterable[Metric]:
        described = self._describe()
        handing_over = set(described.get("ownership", {}).get("handing_over", []))
        roles = {
            "held": [c for c in described.get("cameras", []) if c not in handing_over],
            "handing_over": [c for c in described.get("cameras", []) if c in handing_over],
            "standby": sorted(described.get("standby", {})),
        }
        cameras = GaugeMetricFamily("vms_worker_cameras", "Cameras of this worker by role: held (recorded), "
                                    "handing_over (recorded until the next holder starts), standby (pulled, not recorded)",
                                    labels=["role"])
        role = GaugeMetricFamily("vms_worker_camera_role", "1 for each camera of this worker, labelled with its role",
                                 labels=["camera", "role"])
        for name in self.ROLES:
            cameras.add_metric([name], float(len(roles[name])))
            for camera_id in roles[name]:
                role.add_metric([camera_id, name], 1.0)
        preroll = GaugeMetricFamily("vms_worker_standby_preroll_seconds",
                                    "Seconds of video in the pre-roll ring of a camera this worker stands by for",
                                    labels=["camera"])
        for camera_id, ring in sorted(described.get("standby", {}).items()):
            preroll.add_metric([camera_id], float(ring.get("seconds") or 0.0))
        sessions = GaugeMetricFamily("vms_worker_rtsp_sessions", "RTSP pulls of this worker (recorded and standby)")
        sessions.add_metric([], float(described.get("rtsp_sessions", 0)))
        draining = GaugeMetricFamily("vms_worker_draining", "1 while this worker stops: it left the worker set and "
                                     "records its cameras until their next holders have started")
        draining.add_metric([], 1.0 if described.get("ownership", {}).get("state") == "draining" else 0.0)
        yield from (cameras, role, preroll, sessions, draining)


def runtime_registry(*collectors: Collector) -> CollectorRegistry:
    """A registry holding only ``collectors`` (one set per process or worker, apart from the global counters)."""
    registry = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        registry.register(collector)
    return registry


def exposition(*registries: CollectorRegistry) -> bytes:
    """The text format of the process-wide counters followed by the given registries."""
    from prometheus_client import REGISTRY

    return b"".join(generate_latest(r) for r in (REGISTRY, *registries))
