"""The status board: last status of every stream from the bus, forgotten when no longer refreshed."""

from __future__ import annotations

from collections import deque
from types import SimpleNamespace

from streams.recording import Recording
from vms.bus.memory import MemoryBus
from vms.cameras.status import LIVE_TOPIC, RECORDING_TOPIC, STATUS_TOPIC, StatusBoard, recording_state
from vms.metrics import RuntimeCollector

T0 = 1_780_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def status(camera_id: str, state: str, stream: str = "main", worker_id: str = "w1", **extra) -> dict:
    return {"camera_id": camera_id, "stream": stream, "state": state, "since": T0, "fps": 25.0 if state == "online" else 0.0,
            "bitrate_bps": 2e6 if state == "online" else 0.0, "worker_id": worker_id, **extra}


def test_keeps_the_newest_status_of_each_stream_from_any_worker_and_forgets_stale_ones():
    bus, clock = MemoryBus(), Clock()
    board = StatusBoard(bus, expire_seconds=30, clock=clock).start()
    bus.publish(STATUS_TOPIC, status("t-01", "connecting"))
    bus.publish(STATUS_TOPIC, status("t-01", "online"))
    bus.publish(STATUS_TOPIC, status("t-01", "offline", stream="sub"))
    bus.publish(STATUS_TOPIC, status("g-01", "online", worker_id="w2"))
    assert board.cameras() == {
        "g-01": {"main": status("g-01", "online", worker_id="w2")},
        "t-01": {"main": status("t-01", "online"), "sub": status("t-01", "offline", stream="sub")},
    }
    assert [s["camera_id"] for s in board.streams("w2")] == ["g-01"]
    clock.now += 20
    bus.publish(STATUS_TOPIC, status("t-01", "online"))  # w1's heartbeat; w2 went quiet
    clock.now += 15
    assert board.cameras() == {"t-01": {"main": status("t-01", "online")}}
    board.stop()
    bus.publish(STATUS_TOPIC, status("x-01", "online"))
    assert "x-01" not in board.cameras()


def test_recording_health_compares_the_recent_rate_with_the_cameras_normal():
    message = {"camera_id": "t-01", "segment_seconds": 60, "started_at": T0, "last_segment_at": T0 + 600,
               "bytes_per_minute": 15e6, "normal_bytes_per_minute": 16e6}
    assert recording_state(message, T0 + 620) == {"state": "ok", "seconds_since_segment": 20.0}
    assert recording_state({**message, "bytes_per_minute": 7e6}, T0 + 620)["state"] == "low"
    assert recording_state(message, T0 + 600 + 151)["state"] == "stalled"  # 2 x 60 s + 30 s
    fresh = {**message, "last_segment_at": None, "normal_bytes_per_minute": None}
    assert recording_state(fresh, T0 + 100)["state"] == "waiting"
    assert recording_state(fresh, T0 + 200)["state"] == "stalled"  # never finished a segment


def test_metrics_read_the_board():
    clock = Clock()
    board = StatusBoard(None, clock=clock)
    board.record(STATUS_TOPIC, status("t-01", "online"))
    board.record(STATUS_TOPIC, status("t-02", "error"))
    board.record(RECORDING_TOPIC, {"camera_id": "t-01", "worker_id": "w1", "segment_seconds": 60, "started_at": T0,
                                   "last_segment_at": T0 - 200, "bytes_per_minute": 0.0, "normal_bytes_per_minute": None})
    collector = RuntimeCollector(board.streams, dict, dict, board.recording)
    samples = {(s.name, tuple(s.labels.values())): s.value for m in collector.collect() for s in m.samples}
    assert samples[("vms_cameras_online", ())] == 1
    assert samples[("vms_camera_up", ("t-02", "main"))] == 0
    assert samples[("vms_recording_seconds_since_segment", ("t-01",))] == 200
    assert samples[("vms_recording_ok", ("t-01",))] == 0  # stalled


def test_live_viewers_of_every_worker_reach_the_board_and_its_metrics():
    bus, clock = MemoryBus(), Clock()
    board = StatusBoard(bus, expire_seconds=30, clock=clock).start()
    bus.publish(LIVE_TOPIC, {"worker_id": "w1", "viewers": {"t-01": 2, "t-02": 0}})
    bus.publish(LIVE_TOPIC, {"worker_id": "w2", "viewers": {"t-01": 1}})
    assert board.viewers() == {"t-01": 3, "t-02": 0}
    assert board.viewers("w2") == {"t-01": 1}
    collector = RuntimeCollector(board.streams, dict, board.viewers, board.recording)
    samples = {(s.name, tuple(s.labels.values())): s.value for m in collector.collect() for s in m.samples}
    assert samples[("vms_live_viewers", ("t-01",))] == 3
    # The newest heartbeat of a worker replaces its counts; a worker not heard from is forgotten.
    bus.publish(LIVE_TOPIC, {"worker_id": "w1", "viewers": {}})
    clock.now += 20
    bus.publish(LIVE_TOPIC, {"worker_id": "w1", "viewers": {"t-02": 1}})
    clock.now += 15
    assert board.viewers() == {"t-02": 1}


def test_recording_rates_per_minute_and_normal_after_ten_minutes(tmp_path):
    recording = Recording(index=None, recordings_dir=tmp_path, queue_packets=10)
    recorder = SimpleNamespace(bytes_written=0, segment_seconds=60.0, last_segment_at=None, segments_written=0,
                               last_storage_error=None)
    pipeline = SimpleNamespace(spec=SimpleNamespace(id="t-01"))
    recording._recorders["t-01"] = (pipeline, recorder)  # as attach() leaves it, without a real recorder thread
    recording._samples["t-01"] = deque()
    recording._started_at["t-01"] = T0
    for minute in range(16):
        recorder.bytes_written = minute * 1_000_000 if minute < 11 else 10_000_000 + (minute - 10) * 200_000
        [health] = recording.health(T0 + 60 * minute)
        if minute == 9:
            assert health["normal_bytes_per_minute"] is None
    assert health["bytes_per_minute"] == 200_000.0  # the last 5 minutes: a fifth of the normal rate
    assert 600_000 < health["normal_bytes_per_minute"] < 800_000
    assert recording_state({**health, "last_segment_at": T0 + 900}, T0 + 900)["state"] == "low"
