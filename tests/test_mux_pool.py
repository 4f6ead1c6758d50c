"""Recorders of many cameras share a few muxing threads (streams.mux_pool), fed through real fan-outs."""

import threading
import time

from streams.fanout import PacketFanout
from streams.mux_pool import MuxPool
from streams.packets import StreamEnd
from streams.recorder import Recorder
from tests.support.media import media_packets
from vms.recordings.index import SegmentIndex


def lane_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("mux-lane-")]


def wait_until(condition, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_six_cameras_record_on_two_threads_and_the_threads_end_with_them(db, recordings_dir):
    pool = MuxPool(lanes=2)
    index = SegmentIndex(db)
    before = set(lane_threads())
    fanouts, recorders = [], []
    for n in range(6):
        camera_id = f"cam-{n}"
        fanout = PacketFanout(camera_id, "main")
        queue = fanout.subscribe("recorder", max_packets=10_000, wake_per_packet=False)
        recorders.append(Recorder(camera_id, queue, index, recordings_dir, segment_seconds=2).start(pool))
        fanouts.append((camera_id, fanout, queue))
    assert len(set(lane_threads()) - before) == 2  # not one per camera
    assert pool.threads() == 2
    for camera_id, fanout, _ in fanouts:
        info, packets = media_packets(camera_id, frames=125, fps=25, gop=25)
        for item in (info, *packets, StreamEnd(camera_id, "main", 1, "test")):
            fanout.publish(item)
    assert wait_until(lambda: all(len(queue) == 0 for _, _, queue in fanouts))
    for recorder in recorders:
        recorder.stop()
        assert recorder.finished
    for camera_id, _, _ in fanouts:
        segments = index.of_camera(camera_id)
        assert sum(s.frames for s in segments) == 125
        assert all(s.end is not None for s in segments)
    assert wait_until(lambda: pool.threads() == 0 and set(lane_threads()) <= before)


class Failing:
    name = "broken"

    def __init__(self) -> None:
        self.calls = 0

    def service(self) -> bool:
        self.calls += 1
        if self.calls > 2:
            return True  # leaves the lane, so it does not log for the rest of the test session
        raise RuntimeError("a recorder bug")


def test_a_failing_recorder_does_not_stop_the_others_of_its_lane(db, recordings_dir):
    pool = MuxPool(lanes=1)
    failing = Failing()
    pool.add(failing)
    index = SegmentIndex(db)
    fanout = PacketFanout("cam", "main")
    queue = fanout.subscribe("recorder", max_packets=10_000, wake_per_packet=False)
    recorder = Recorder("cam", queue, index, recordings_dir, segment_seconds=2).start(pool)
    info, packets = media_packets("cam", frames=75, fps=25, gop=25)
    for item in (info, *packets, StreamEnd("cam", "main", 1, "test")):
        fanout.publish(item)
    assert wait_until(lambda: len(queue) == 0 and failing.calls >= 2)
    recorder.stop()
    assert recorder.finished
    assert sum(s.frames for s in index.of_camera("cam")) == 75
