"""Camera offline/online events from ingest state on ``camera.status``."""

from __future__ import annotations

import threading
import time

import pytest

from streams.detect.health import CameraHealth
from vmsapp.detection import DetectionManager
from streams.simulator import CameraSimulator, SimulatedCamera, simulator_available, simulator_unavailable_reason
from vms.cameras.status import STATUS_TOPIC
from tests.support.scenes import EventLog
from tests.support.system import camera_entry, make_settings, running_worker
from vms.bus.memory import MemoryBus
from vms.events import EVENTS_TOPIC

T0 = 1_800_000_000.0


def status(camera_id: str, state: str, since: float, stream: str = "main", worker_id: str = "w1", error: str | None = None) -> dict:
    return {"camera_id": camera_id, "stream": stream, "state": state, "since": since, "error": error, "worker_id": worker_id}


@pytest.fixture
def health():
    bus, sink = MemoryBus(), EventLog()
    monitor = CameraHealth(bus, sink, offline_after_seconds=30, worker_id="w1", clock=lambda: T0)
    monitor.start(timer=False)  # the test says when it is
    yield bus, sink, monitor
    monitor.stop()


def test_down_longer_than_the_threshold_is_offline_then_online(health):
    bus, sink, monitor = health
    bus.publish(STATUS_TOPIC, status("t-01", "online", T0 - 100))
    bus.publish(STATUS_TOPIC, status("t-01", "offline", T0, error="camera at 10.0.0.1:554 refused the connection"))
    monitor.check(T0 + 29)
    assert sink.events == []
    monitor.check(T0 + 31)
    [offline] = sink.events
    assert offline.type == "camera_offline" and offline.start == T0 and offline.detected_at == T0 + 31
    assert offline.details["streams"]["main"]["error"].startswith("camera at 10.0.0.1")
    monitor.check(T0 + 60)
    assert len(sink.events) == 1  # raised once
    bus.publish(STATUS_TOPIC, status("t-01", "online", T0 + 75))
    offline, online = sink.events
    assert offline.end == T0 + 75
    assert online.type == "camera_online" and online.start == online.end == T0 + 75
    assert online.details["down_seconds"] == 75


def test_blips_other_workers_and_deliberate_stops_raise_nothing(health):
    bus, sink, monitor = health
    bus.publish(STATUS_TOPIC, status("t-01", "offline", T0))
    bus.publish(STATUS_TOPIC, status("t-01", "online", T0 + 10))  # back within 30 s
    bus.publish(STATUS_TOPIC, status("other", "offline", T0, worker_id="w2"))  # not this worker's camera
    monitor.check(T0 + 100)
    assert sink.events == []
    bus.publish(STATUS_TOPIC, status("t-02", "error", T0, error="401 unauthorised"))
    monitor.check(T0 + 40)
    assert [e.type for e in sink.events] == ["camera_offline"]
    bus.publish(STATUS_TOPIC, status("t-02", "stopped", T0 + 50))  # camera removed: the outage is over, silently
    assert sink.events[0].end == T0  # the clock's now: when the stop was heard
    assert [e.type for e in sink.events] == ["camera_offline"]


def test_any_stream_down_counts_and_all_must_be_back(health):
    bus, sink, monitor = health
    bus.publish(STATUS_TOPIC, status("t-01", "online", T0 - 10, stream="main"))
    bus.publish(STATUS_TOPIC, status("t-01", "offline", T0, stream="sub"))
    monitor.check(T0 + 31)
    assert [e.type for e in sink.events] == ["camera_offline"] and list(sink.events[0].details["streams"]) == ["sub"]
    bus.publish(STATUS_TOPIC, status("t-01", "online", T0 + 40, stream="sub"))
    assert [e.type for e in sink.events] == ["camera_offline", "camera_online"]


@pytest.mark.skipif(not simulator_available(), reason=simulator_unavailable_reason() or "simulator unavailable")
def test_simulated_camera_cut_raises_offline_then_online(tmp_path):
    camera = SimulatedCamera(id="gate-01", scene="road", width=320, height=180, fps=10, gop=10, bitrate_kbps=200)
    with CameraSimulator([camera]).start() as sim:
        settings = make_settings(tmp_path, [camera_entry(sim, camera.id, group="gateway")],
                                 detection={"offline_after_seconds": 2})
        with running_worker(settings) as (worker, statuses):
            events: list[dict] = []
            arrived = threading.Condition()

            def on_event(topic, message):
                with arrived:
                    events.append(message)
                    arrived.notify_all()

            def wait_for(kind: str, timeout: float) -> dict:
                deadline = time.monotonic() + timeout
                with arrived:
                    while True:
                        found = [e for e in events if e["type"] == kind]
                        if found or time.monotonic() > deadline:
                            return found[0] if found else None
                        arrived.wait(0.5)

            worker.bus.add_listener(EVENTS_TOPIC, on_event)
            manager = DetectionManager(worker.settings, worker.db, worker.bus, worker.worker_id)
            worker.add_output(manager)
            manager.start()
            try:
                statuses.wait_state(camera.id, "online", timeout=20)
                sim.stop_camera(camera.id)
                cut = time.time()
                offline = wait_for("camera_offline", 20)
                assert offline is not None, f"no offline event; statuses {statuses.states(camera.id)}"
                assert offline["camera_id"] == camera.id and offline["group"] == "gateway"
                assert time.time() - cut < 2 + 5  # threshold, plus reconnect attempts reporting it
                sim.start_camera(camera.id)
                online = wait_for("camera_online", 30)
                assert online is not None, f"no online event; statuses {statuses.states(camera.id)}"
                ended = [e for e in events if e["type"] == "camera_offline" and e["phase"] == "end"]
                assert ended and ended[0]["end"] == online["start"]
            finally:
                manager.stop()
