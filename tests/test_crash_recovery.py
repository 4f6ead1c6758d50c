"""kill -9 of a recording worker: the open segment stays playable and the restart repairs the index."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest
import yaml

from streams.simulator import CameraSimulator, SimulatedCamera, simulator_available
from tests.support.cluster import PROCESS_START_SECONDS, wait_for
from tests.support.media import decode_all
from tests.support.system import FAST_INGEST
from vms.db import Database
from vms.recordings.index import SegmentIndex

pytestmark = pytest.mark.skipif(not simulator_available(), reason="GStreamer RTSP server (Debian packages) missing")


def start_worker(config: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "vmsapp.cli", "worker", "--config", str(config)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        cwd=config.parent,
    )


def frames_readable(path: Path) -> int:
    """Frames a tolerant player gets out of the file as it is on disk."""
    count = 0
    try:
        with av.open(str(path)) as container:
            for _ in container.decode(video=0):
                count += 1
    except av.error.FFmpegError:
        pass
    return count


def test_kill_9_mid_segment_leaves_it_playable_and_restart_repairs(tmp_path):
    camera = SimulatedCamera(id="tunnel-07", scene="tunnel", width=320, height=180, fps=25, gop=25, bitrate_kbps=300)
    with CameraSimulator([camera]).start() as sim:
        config = tmp_path / "vms.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "data_dir": str(tmp_path / "data"),
                    "storage": {"min_free": 0},
                    "ingest": FAST_INGEST,
                    "cameras": [
                        {
                            "id": camera.id,
                            "name": "Tunnel 7",
                            "group": "tunnel",
                            "main_url": sim.url(camera.id),
                            "recording": {"segment_seconds": 60},
                        }
                    ],
                }
            )
        )
        db = Database(f"sqlite:///{tmp_path / 'data' / 'vms.db'}")
        index = SegmentIndex(db)
        log = tmp_path / "worker.log"
        worker = start_worker(config, log)
        try:
            recordings = tmp_path / "data" / "recordings" / camera.id
            segment = wait_for(lambda: next(recordings.rglob("*.mp4"), None) if recordings.exists() else None, PROCESS_START_SECONDS, "no segment file")
            time.sleep(4.5)  # mid-segment: several fragments written, the current one not
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(10)
        finally:
            if worker.poll() is None:
                worker.kill()

        (row,) = index.of_camera(camera.id)
        assert row.end is None, "a killed worker cannot have closed its segment"
        assert frames_readable(segment) >= 75, "fragments written before the kill must play"

        worker = start_worker(config, log)
        try:
            wait_for(lambda: len(index.of_camera(camera.id)) >= 2, PROCESS_START_SECONDS, "recording did not resume after restart")
            time.sleep(2)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(20)

    segments = index.of_camera(camera.id)
    repaired = segments[0]
    assert repaired.path == row.path and repaired.end is not None
    frames = decode_all(segment)  # strict decode: the partial last fragment was cut off
    assert frames == repaired.frames and frames % 25 == 0 and frames >= 75
    assert repaired.duration_seconds == pytest.approx(frames / 25, abs=0.05)
    assert segment.stat().st_size == repaired.bytes
    assert all(s.end is not None for s in segments), "the clean stop closes the new segment too"
    assert segments[1].start > repaired.end
    db.dispose()
