"""End to end in one worker: a camera pipeline's fan-out, the DetectionManager, the event in the
database, on the bus and at a webhook, fed at real time to measure the latency."""

from __future__ import annotations

import random
import threading
import time
from datetime import datetime
from types import SimpleNamespace

from vmsapp.detection import DetectionManager
from streams.pipeline import CameraPipeline
from tests.support.scenes import Scene, encode, feed, realtime_scene, traffic, tunnel_detection
from tests.support.webhook_receiver import receiving
from vms.bus.memory import MemoryBus
from vms.cameras.registry import CameraRegistry, CameraSpec
from vms.config import CameraConfig, Settings
from vms.events import EVENTS_TOPIC, EventQuery, EventStore
from vms.events.configs import DetectionSettings
from vms.events.webhooks import SIGNATURE_HEADER, verify

LATENCY = 2.0
SECRET = "hotline-1022-secret"


def worker_with_camera(db, tmp_path, webhook_url: str):
    config = tunnel_detection()
    settings = Settings(
        data_dir=tmp_path,
        detection={"cameras": {"t-01": config.model_dump()}},
        events={"webhooks": [{"url": webhook_url, "secret": SECRET, "types": ["tamper_covered"]}]},
    )
    camera = CameraConfig(id="t-01", name="Tunnel 1", group="tunnel", main_url="rtsp://10.0.0.1/main", sub_url="rtsp://10.0.0.1/sub")
    CameraRegistry(db).sync_from_config(settings.groups, [camera])
    spec = CameraSpec.from_row(CameraRegistry(db).get("t-01"))
    spec = CameraSpec(**{**spec.__dict__, "recording_enabled": False})
    # Not started: the test plays the ingest, publishing on the sub-stream's fan-out itself.
    pipeline = CameraPipeline(spec, settings.ingest, lambda s: None)
    return SimpleNamespace(settings=settings, db=db, bus=MemoryBus(), worker_id="w1"), pipeline


def manager_of(worker, pipeline) -> DetectionManager:
    """A started manager with ``pipeline`` attached, as a worker would attach it."""
    manager = DetectionManager(worker.settings, worker.db, worker.bus, worker.worker_id)
    manager.attach(pipeline)
    return manager.start()


def test_covered_lens_reaches_bus_database_and_webhook_within_two_seconds(db, tmp_path):
    scene = Scene(name="covered-live", duration=8.5, seed=11, covered_at=5.0, noise=3)
    scene.vehicles = traffic(random.Random(11), 8.5)
    encoded = encode(scene)
    with receiving() as receiver:
        worker, pipeline = worker_with_camera(db, tmp_path, receiver.url)
        arrivals: list[tuple[float, dict]] = []
        arrived = threading.Event()

        def on_event(topic, message):
            arrivals.append((time.monotonic(), message))
            if message["type"] == "tamper_covered":
                arrived.set()

        worker.bus.add_listener(EVENTS_TOPIC, on_event)
        manager = manager_of(worker, pipeline)
        try:
            assert manager.stats()["t-01"]["stream"] == "sub"
            live = realtime_scene(encoded, time.time())
            changed_at: list[float] = []

            def mark(packet):
                if not changed_at and packet.wall_time - live.start_wall >= scene.covered_at:
                    changed_at.append(time.monotonic())

            feed(pipeline.fanout("sub"), live, realtime=True, end=False, on_packet=mark)
            assert arrived.wait(5)
            at, message = next((a, m) for a, m in arrivals if m["type"] == "tamper_covered")
            assert at - changed_at[0] < LATENCY, f"{at - changed_at[0]:.2f} s of wall time"
            assert live.scene_time(message_time(message["detected_at"])) - scene.covered_at < LATENCY
            [delivery] = receiver.wait(1)
            assert verify(delivery["body"], SECRET, delivery["headers"][SIGNATURE_HEADER])
            [row] = EventStore(db).query(EventQuery(types=["tamper_covered"]))
            assert row.group_id == "tunnel" and (tmp_path / row.snapshot_path).is_file()
            assert manager.stats()["t-01"]["dropped_packets"] == 0
        finally:
            manager.stop()


def message_time(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def test_settings_changed_through_the_api_restart_that_cameras_detection(db, tmp_path):
    worker, pipeline = worker_with_camera(db, tmp_path, "http://127.0.0.1:9/unused")
    manager = manager_of(worker, pipeline)
    try:
        before = manager.running["t-01"].detection
        DetectionSettings(db, worker.settings.detection, worker.bus).replace("t-01", tunnel_detection(fps=2, stream="main"))
        deadline = time.monotonic() + 10
        while manager.running.get("t-01") is None or manager.running["t-01"].detection is before:
            assert time.monotonic() < deadline, "detection was not restarted"
            time.sleep(0.1)
        assert manager.running["t-01"].config.fps == 2 and manager.stats()["t-01"]["stream"] == "main"
        assert not before.running
        DetectionSettings(db, worker.settings.detection, worker.bus).replace("t-01", tunnel_detection(enabled=False))
        deadline = time.monotonic() + 10
        while "t-01" in manager.running:
            assert time.monotonic() < deadline, "detection was not stopped"
            time.sleep(0.1)
    finally:
        manager.stop()


def test_camera_removed_from_the_worker_stops_its_detection(db, tmp_path):
    worker, pipeline = worker_with_camera(db, tmp_path, "http://127.0.0.1:9/unused")
    manager = manager_of(worker, pipeline)
    try:
        running = manager.running["t-01"].detection
        manager.detach(pipeline)
        assert "t-01" not in manager.running and not running.running
    finally:
        manager.stop()
