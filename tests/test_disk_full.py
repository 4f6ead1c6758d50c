"""A full disk: recording goes on, oldest recordings make room, evidence stays, nothing is corrupt."""

from __future__ import annotations

import subprocess
import time
from datetime import timedelta

import pytest

from streams.simulator import CameraSimulator, SimulatedCamera, simulator_available
from tests.support.media import decode_all
from tests.support.system import camera_entry, make_settings, running_worker
from vms.recordings.retention import lock_range

pytestmark = pytest.mark.skipif(not simulator_available(), reason="GStreamer RTSP server (Debian packages) missing")


@pytest.fixture
def tiny_disk(tmp_path):
    """A real 1.5 MB filesystem (tmpfs), so ENOSPC comes from the kernel, not from a mock."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1536k", "tmpfs", str(mount_point)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_recording_continues_on_a_full_disk(tmp_path, tiny_disk):
    camera = SimulatedCamera(id="gate-09", scene="road", width=320, height=180, fps=25, gop=25, bitrate_kbps=900)
    with CameraSimulator([camera]).start() as sim:
        settings = make_settings(
            tmp_path,
            [camera_entry(sim, camera.id, segment_seconds=2)],
            storage={"recordings_dir": str(tiny_disk), "min_free": 0, "cleanup_interval_seconds": 30},
        )
        with running_worker(settings) as (worker, statuses):
            statuses.wait_state(camera.id, "online", timeout=20)
            deadline = time.monotonic() + 20
            while not worker.index.of_camera(camera.id) and time.monotonic() < deadline:
                time.sleep(0.2)
            first = worker.index.of_camera(camera.id)[0]
            while first.end is None and time.monotonic() < deadline:
                time.sleep(0.2)
                first = worker.index.of_camera(camera.id)[0]
            # An investigator locks the first segment as evidence.
            lock_range(worker.db, camera.id, first.start, first.start + timedelta(seconds=1), "case", "police")
            recorder = worker.recording.recorder(camera.id)
            deadline = time.monotonic() + 40
            while (recorder.storage_errors < 2 or recorder.segments_written < 12) and time.monotonic() < deadline:
                time.sleep(0.5)
            saw_disk_full = recorder.last_storage_error
            time.sleep(4)
            stopped_at = time.time()

        # The recorder meets the full disk while writing ("No space left") or when closing a file
        # it could not finish ("not written completely (disk full?)"): whichever came last.
        assert saw_disk_full and ("No space left" in saw_disk_full or "(disk full?)" in saw_disk_full), \
            "the disk never filled: the test proves nothing"
        segments = worker.index.of_camera(camera.id)
        assert segments[0].path == first.path, "the evidence-locked segment must survive"
        assert len(segments) < recorder.segments_written, "retention should have deleted old segments"
        for segment in segments:
            assert segment.end is not None
            assert decode_all(tiny_disk / segment.path) == segment.frames
        # Still recording at the end: the newest segment reaches (almost) the moment we stopped.
        assert stopped_at - segments[-1].end.timestamp() < 3
