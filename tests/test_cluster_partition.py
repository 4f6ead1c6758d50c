"""A worker cut off from Redis stops recording its cameras within one lease period; another takes over."""

from __future__ import annotations

import time

import pytest
import redis

from streams.simulator import CameraSimulator, SimulatedCamera, simulator_available
from vmsapp.worker import StreamWorker
from tests.support.cluster import REDIS_URL, TcpProxy, redis_available, unique, wait_for
from tests.support.system import FAST_INGEST
from vms.bus.memory import MemoryBus
from vms.cameras.registry import CameraRegistry
from vms.config import Settings
from vms.db import Database

pytestmark = [
    pytest.mark.skipif(not simulator_available(), reason="GStreamer RTSP server (Debian packages) missing"),
    pytest.mark.skipif(redis_available() is not None, reason=str(redis_available())),
    pytest.mark.timeout(180),
]

LEASE = 6.0


def test_worker_cut_off_from_redis_stops_recording_before_its_leases_expire(tmp_path):
    mount = SimulatedCamera(id="m0", width=320, height=180, fps=25, gop=25, bitrate_kbps=300)
    prefix = f"vms:{unique('cut-')}:"
    redis_port = redis.Redis.from_url(REDIS_URL).connection_pool.connection_kwargs["port"]
    proxy = TcpProxy("127.0.0.1", redis_port).start()
    database_url = f"sqlite:///{tmp_path / 'shared.db'}"
    workers: list[StreamWorker] = []
    with CameraSimulator([mount]).start() as sim:
        cameras = [
            {"id": c, "name": c, "group": "rented", "main_url": sim.url("m0"), "recording": {"segment_seconds": 3}}
            for c in ("cam-a", "cam-b")
        ]

        def worker(name: str, redis_url: str) -> StreamWorker:
            settings = Settings(
                data_dir=tmp_path / name, database_url=database_url, redis_url=redis_url, worker_id=name,
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
            wait_for(lambda: len(cut_off.index.of_camera("cam-a")) and len(cut_off.index.of_camera("cam-b")), 30, "no recording")
            other = worker("other", REDIS_URL)
            wait_for(lambda: len(cut_off.pipelines) == 1 and len(other.pipelines) == 1, 30, "no 1/1 spread")
            (camera,) = cut_off.pipelines
            wait_for(lambda: any(s.worker_id == "cut" and s.end for s in cut_off.index.of_camera(camera)), 15, "no segment")

            proxy.cut()
            cut = time.time()
            wait_for(lambda: not cut_off.pipelines, LEASE + 2, "the cut-off worker kept recording", interval=0.05)
            stopped_after = time.time() - cut
            wait_for(lambda: camera in other.pipelines, 20, "the other worker did not take the camera over")
            wait_for(lambda: any(s.worker_id == "other" for s in other.index.of_camera(camera)), 15, "not recording")
            time.sleep(2)
        finally:
            for started in workers:
                started.stop()
            proxy.cut()

    rows = workers[1].index.of_camera(camera)
    mine = [s for s in rows if s.worker_id == "cut"]
    theirs = [s for s in rows if s.worker_id == "other"]
    print(f"cut-off worker stopped {stopped_after:.2f} s after the cut (lease {LEASE:g} s)")
    assert stopped_after < LEASE, "recording must stop within one lease period"
    assert all(s.end is not None for s in rows)
    assert mine[-1].end.timestamp() < cut + LEASE
    # No two workers recorded the camera at the same time.
    assert theirs[0].start >= mine[-1].end, (mine[-1].end, theirs[0].start)
    for started in workers:
        started.db.dispose()
