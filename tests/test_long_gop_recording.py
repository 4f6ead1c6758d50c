"""A long-GOP camera's open segment reaches the disk every second, not once per GOP."""

from __future__ import annotations

import time

import pytest

from streams.simulator import CameraSimulator, SimulatedCamera, simulator_available
from tests.support.media import decode_all
from tests.support.system import camera_entry, make_settings, running_worker
from vms.recordings.fmp4 import playable_length

pytestmark = pytest.mark.skipif(not simulator_available(), reason="GStreamer RTSP server (Debian packages) missing")


def test_open_segment_of_a_10_s_gop_camera_grows_in_whole_fragments_every_second(tmp_path):
    camera = SimulatedCamera(id="gop10", width=320, height=180, fps=25, gop=250, bitrate_kbps=300)
    with CameraSimulator([camera]).start() as sim:
        settings = make_settings(tmp_path, [camera_entry(sim, camera.id, segment_seconds=60)])
        with running_worker(settings) as (worker, statuses):
            statuses.wait_state(camera.id, "online", timeout=30)
            folder = worker.recordings_dir / camera.id
            deadline = time.monotonic() + 30
            while not list(folder.rglob("*.mp4")):
                assert time.monotonic() < deadline, "no segment opened"
                time.sleep(0.05)
            path = next(folder.rglob("*.mp4"))
            sizes = []
            # Within one 10 s GOP the whole fragments on disk grow at least 4 times.
            started = time.monotonic()
            while time.monotonic() - started < 6:
                length = playable_length(path)
                if not sizes or length > sizes[-1]:
                    sizes.append(length)
                time.sleep(0.1)
        assert len(sizes) >= 5, f"whole fragments grew only {len(sizes) - 1} times in 6 s: {sizes}"
        (row,) = worker.index.of_camera(camera.id)
        assert row.frames >= 6 * 25 * 0.8
        assert decode_all(worker.recordings_dir / row.path) == row.frames
