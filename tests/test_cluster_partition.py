"""A worker cut off from Redis keeps recording; another worker takes its cameras too (duplicates,
never a gap); when the partition heals the cut-off worker gives them up."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
import redis

from streams.simulator import CameraSimulator, SimulatedCamera, simulator_available
from vmsapp.worker import StreamWorker
from tests.support.cluster import REDIS_URL, TcpProxy, redis_available, unique, wait_for
from tests.support.recordings import worst_gap
from tests.support.system import FAST_INGEST
from vms.bus.memory import MemoryBus
from vms.cameras.registry import CameraRegistry
from vms.config import Settings
from vms.db import Database
from vms.recordings.locate import SegmentFiles
from vms.recordings.playback import plan_range, write_mp4

pytestmark = [
    pytest.mark.skipif(not simulator_available(), reason="GStreamer RTSP server (Debian packages) missing"),
    pytest.mark.skipif(redis_available() is not None, reason=str(redis_available())),
    pytest.mark.timeout(180),
]

LEASE = 3.0
CAMERAS = ("cam-a", "cam-b")


def test_worker_cut_off_from_redis_keeps_recording_until_the_partition_heals(tmp_path):
    mount = SimulatedCamera(id="m0", width=320, height=180, fps=25, gop=25, bitrate_kbps=300)
    prefix = f"vms:{unique('cut-')}:"
    redis_port = redis.Redis.from_url(REDIS_URL).connection_pool.connection_kwargs["port"]
    proxy = TcpProxy("127.0.0.1", redis_port).start()
    database_url = f"sqlite:///{tmp_path / 'shared.db'}"
    workers: list[StreamWorker] = []
    with CameraSimulator([mount]).start() as sim:
        cameras = [
            {"id": c, "name": c, "group": "rented", "main_url": sim.url("m0"), "recording": {"segment_seconds": 2}}
            for c in CAMERAS
        ]

        def worker(name: str, redis_url: str) -> StreamWorker:
            settings = Settings(
                data_dir=tmp_path / "data", database_url=database_url, redis_url=redis_url, worker_id=name,
                cluster={"key_prefix": prefix, "lease_seconds": LEASE}, storage={"min_free": 0},
                ingest=FAST_INGEST, cameras=cameras,
            )
            db = Database(settings.effective_database_url)
            db.create_schema()
            CameraRegistry(db).sync_from_config(settings.groups, settings.cameras)
            started = StreamWorker(settings, db, MemoryBus()).start()
            workers.append(started)
            return started

        try:
            cut_off = worker("cut", f"redis://127.0.0.1:{proxy.port}/0")
            wait_for(lambda: all(any(s.end for s in cut_off.index.of_camera(c)) for c in CAMERAS), 30, "no recording")
            proxy.cut()
            cut = time.time()
            wait_for(lambda: cut_off.ownership.unconfirmed() == list(CAMERAS), LEASE + 5, "leases not unconfirmed")
            assert sorted(cut_off.pipelines) == list(CAMERAS), "the cut-off worker stopped recording"
            other = worker("other", REDIS_URL)
            wait_for(lambda: sorted(other.pipelines) == list(CAMERAS), 20, "the other worker did not take the cameras")
            wait_for(lambda: all(any(s.worker_id == "other" and s.end for s in other.index.of_camera(c)) for c in CAMERAS),
                     20, "the other worker does not record")
            assert sorted(cut_off.pipelines) == list(CAMERAS), "duplicates, not a gap: both record during the partition"
            proxy.restore()
            healed = time.time()
            wait_for(lambda: not cut_off.pipelines, 15, "the cut-off worker kept cameras the other one holds")
            gave_up = time.time() - healed
            wait_for(lambda: all(s.end for c in CAMERAS for s in other.index.of_camera(c) if s.worker_id == "cut"),
                     15, "the cut-off worker's last segments were not closed")
            time.sleep(0.5)
            until = time.time()
            wait_for(lambda: all(any(s.end and s.end.timestamp() > until for s in other.index.of_camera(c)) for c in CAMERAS),
                     15, "the other worker stopped recording")
        finally:
            for started in workers:
                started.stop()
            proxy.cut()

    print(f"cut-off worker gave its cameras up {gave_up:.1f} s after the partition healed")
    for camera_id in CAMERAS:
        rows = workers[1].index.of_camera(camera_id)
        mine = [s for s in rows if s.worker_id == "cut"]
        theirs = [s for s in rows if s.worker_id == "other"]
        assert mine[-1].end.timestamp() > theirs[0].start.timestamp(), "the two workers' recordings overlap"
        assert worst_gap(rows, cut - 1, until) < 0.5, f"{camera_id} was recorded by nobody for a while"
    # Playback of the partition shows each moment once: frames at the camera's rate, not doubled.
    settings = workers[1].settings
    plan = plan_range(workers[1].db, SegmentFiles.of(settings), "cam-a", datetime.fromtimestamp(cut - 1, timezone.utc),
                      datetime.fromtimestamp(until, timezone.utc))
    result = write_mp4(plan, SegmentFiles.of(settings), tmp_path / "partition.mp4")
    seconds = (result.last_frame - result.first_frame).total_seconds()
    print(f"playback of {seconds:.1f} s across the partition: {result.frames} frames from "
          f"{sorted({s['worker_id'] for s in result.segments})}")
    assert {s["worker_id"] for s in result.segments} == {"cut", "other"}
    assert result.frames <= 25 * seconds * 1.1 + 25, "duplicate recordings were both played"
    assert result.frames >= 25 * seconds * 0.9
    for started in workers:
        started.db.dispose()
