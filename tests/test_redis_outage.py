"""Redis down for 60 s: a ``vms worker`` records every camera through it, without a gap, and
takes its leases again when Redis is back (a private redis-server, stopped and restarted)."""

from __future__ import annotations

import time

import pytest
import redis

from streams.simulator import CameraSimulator, SimulatedCamera, simulator_available
from tests.support.cluster import RedisServer, redis_server_missing, start_worker, stop_process, unique, wait_for, write_config
from tests.support.recordings import closed_segments, worst_gap
from tests.support.system import FAST_INGEST
from vms.bus.redis import RedisBus
from vms.bus.rpc import RpcClient, worker_service
from vms.cluster.leases import LeaseStore
from vms.db import Database

pytestmark = [
    pytest.mark.skipif(not simulator_available(), reason="GStreamer RTSP server (Debian packages) missing"),
    pytest.mark.skipif(redis_server_missing() is not None, reason=str(redis_server_missing())),
    pytest.mark.slow,
    pytest.mark.timeout(300),
]

CAMERAS = ["cam-a", "cam-b"]
OUTAGE_SECONDS = 60
SEGMENT_SECONDS = 3


def _describe(rpc: RpcClient, worker_id: str) -> dict | None:
    try:
        return rpc.call(worker_service(worker_id), "describe", timeout=3)
    except Exception:
        return None


def test_redis_down_60_s_costs_no_recording(tmp_path):
    mount = SimulatedCamera(id="m0", width=320, height=180, fps=25, gop=25, bitrate_kbps=250)
    server = RedisServer(tmp_path / "redis", durable=False).start()
    prefix = f"vms:{unique('outage-')}:"
    worker_id = unique("w-")
    with CameraSimulator([mount]).start() as sim:
        config = write_config(
            tmp_path / "worker.yaml",
            data_dir=str(tmp_path / "data"),
            database_url=f"sqlite:///{tmp_path / 'vms.db'}",
            redis_url=server.url,
            cluster={"key_prefix": prefix, "lease_seconds": 3},
            storage={"min_free": 0},
            ingest=FAST_INGEST,
            cameras=[{"id": c, "name": c, "group": "rented", "main_url": sim.url("m0"),
                      "recording": {"segment_seconds": SEGMENT_SECONDS}} for c in CAMERAS],
        )
        db = Database(f"sqlite:///{tmp_path / 'vms.db'}")
        db.create_schema()
        process = start_worker(config, worker_id, tmp_path / "worker.log")
        try:
            wait_for(lambda: all(len(closed_segments(db, c)) >= 1 for c in CAMERAS), 60, "the worker did not record")
            server.stop()  # a clean stop: the in-memory leases are gone with it
            down = time.time()
            wait_for(lambda: time.time() - down >= OUTAGE_SECONDS, OUTAGE_SECONDS + 5, "", interval=1)
            assert process.poll() is None, "the worker died while Redis was down"
            server.start()  # same port, empty: every lease must be taken again
            up = time.time()
            client = redis.Redis.from_url(server.url)
            store = LeaseStore(client, prefix)
            wait_for(lambda: all(store.holder(c) == worker_id for c in CAMERAS), 20, "leases were not re-established")
            leased_after = time.time() - up
            wait_for(lambda: all(closed_segments(db, c)[-1].end.timestamp() > up + 2 for c in CAMERAS),
                     30, "recording did not go on after Redis came back")
            # The worker's bus listeners rode the outage out: it answers requests again.
            bus = RedisBus(server.url, prefix)
            rpc = RpcClient(bus)
            try:
                described = wait_for(lambda: _describe(rpc, worker_id), 30, "the worker does not answer over the bus")
            finally:
                rpc.close()
                bus.close()
            assert sorted(described["cameras"]) == CAMERAS and described["ownership"]["redis_ok"]
            client.close()
        finally:
            stop_process(process)
            server.kill()
    gaps = {c: worst_gap(closed_segments(db, c), down - 2, up + 2) for c in CAMERAS}
    db.dispose()
    print(f"Redis down {OUTAGE_SECONDS} s: worst gap per camera {gaps}; leases back {leased_after:.1f} s after Redis")
    for camera_id, gap in gaps.items():
        assert gap < 0.5, f"{camera_id}: {gap:.2f} s not recorded during the Redis outage"


def test_a_camera_outage_inside_a_redis_outage_still_raises_its_events(tmp_path):
    """Camera health hears the worker's own statuses in its own process: a camera down and back
    while Redis is away must still give `camera_offline` (from when it went down) and
    `camera_online`, stored once Redis is back (the events' durable queue buffers them). A trial
    found none at all: the statuses went to Redis and never came back to the worker."""
    from sqlalchemy import select

    from vms.db.events import EventRow

    camera = SimulatedCamera(id="drop-1", width=320, height=180, fps=25, gop=25, bitrate_kbps=250)
    server = RedisServer(tmp_path / "redis", durable=False).start()
    worker_id = unique("w-")
    database_url = f"sqlite:///{tmp_path / 'vms.db'}"
    with CameraSimulator([camera]).start() as sim:
        config = write_config(
            tmp_path / "worker.yaml", data_dir=str(tmp_path / "data"), database_url=database_url,
            redis_url=server.url, cluster={"key_prefix": f"vms:{unique('outage-events-')}:", "lease_seconds": 3},
            storage={"min_free": 0}, ingest=FAST_INGEST, detection={"offline_after_seconds": 2},
            cameras=[{"id": camera.id, "name": camera.id, "group": "rented", "main_url": sim.url(camera.id),
                      "recording": {"segment_seconds": 2}}],
        )
        db = Database(database_url)
        db.create_schema()
        process = start_worker(config, worker_id, tmp_path / "worker.log")

        def events() -> list[EventRow]:
            with db.session() as session:
                return list(session.scalars(select(EventRow).where(EventRow.camera_id == camera.id)
                                            .order_by(EventRow.start)))

        try:
            wait_for(lambda: len(closed_segments(db, camera.id)) >= 1, 60, "the worker did not record")
            server.stop()
            sim.stop_camera(camera.id)
            cut = time.time()
            wait_for(lambda: time.time() - cut > 6, 10, "", interval=0.5)  # > offline_after_seconds + a reconnect
            sim.start_camera(camera.id)
            wait_for(lambda: closed_segments(db, camera.id)[-1].start.timestamp() > cut + 2, 60,
                     "the camera was not recorded again")
            server.start()
            wait_for(lambda: {e.type for e in events()} >= {"camera_offline", "camera_online"}, 60,
                     "the camera's outage during the Redis outage raised no events")
        finally:
            stop_process(process)
            server.kill()
    found = {e.type: e for e in events()}
    db.dispose()
    offline = found["camera_offline"]
    assert offline.end is not None and abs(offline.start.timestamp() - cut) < 3, (offline.start, cut)
    assert found["camera_online"].start.timestamp() >= offline.end.timestamp() - 0.5
