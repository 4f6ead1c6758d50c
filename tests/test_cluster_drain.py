"""A worker told to stop (SIGTERM) hands its cameras over before it stops recording them: two
``vms worker`` processes sharing PostgreSQL and Redis, the index showing no hole."""

from __future__ import annotations

import json
import signal
import time

import pytest
import redis
from typer.testing import CliRunner

from streams.simulator import CameraSimulator, SimulatedCamera
from tests.support.cluster import (
    PROCESS_START_SECONDS,
    REDIS_URL,
    RedisServer,
    postgres_admin_url,
    redis_server_missing,
    scale_out_marks,
    segments,
    start_worker,
    stop_processes,
    throwaway_database,
    unique,
    wait_for,
    write_config,
)
from tests.support.system import FAST_INGEST
from vms.cluster.leases import LeaseStore
from vms.db import Database
from vmsapp.cli import app
from vmsapp.workers_cli import format_worker

PG = postgres_admin_url()
pytestmark = [*scale_out_marks(PG), pytest.mark.slow, pytest.mark.timeout(300)]

CAMERAS = [f"cam-{i}" for i in range(4)]
HANDOVER = 4.0



def _listed(config) -> dict[str, dict]:
    """``vms workers --json`` by worker id."""
    result = CliRunner().invoke(app, ["workers", "--config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    return {w["worker_id"]: w for w in json.loads(result.output)}


def _configs(tmp_path, names, sim, database_url: str, redis_url: str, cluster: dict) -> dict:
    """One configuration per worker: the four cameras on mount m0, 4 s segments."""
    cameras = [{"id": c, "name": c, "group": "rented", "main_url": sim.url("m0"),
                "recording": {"segment_seconds": 4}} for c in CAMERAS]
    return {
        name: write_config(
            tmp_path / f"{name}.yaml", data_dir=str(tmp_path / "data"), database_url=database_url,
            redis_url=redis_url, storage={"min_free": 0}, ingest=FAST_INGEST, cameras=cameras, cluster=cluster,
        )
        for name in names
    }


def _owners(store: LeaseStore) -> dict[str, str | None]:
    return {c: (h[1] if h else None) for c, h in store.holders(CAMERAS).items()}


def _start_spread(tmp_path, names, configs, store: LeaseStore, db: Database, processes: dict) -> list[str]:
    """Start the workers; once the cameras are spread 2/2 and each has a finished segment, the
    cameras of the first worker (the one a test stops)."""
    for name in names:
        processes[name] = start_worker(configs[name], name, tmp_path / f"{name}.log")
    wait_for(lambda: sorted(list(_owners(store).values()).count(n) for n in names) == [2, 2],
             PROCESS_START_SECONDS, "cameras were not spread 2/2")
    moved = sorted(c for c, w in _owners(store).items() if w == names[0])
    wait_for(lambda: {s.camera_id for s in segments(db) if s.end is not None} >= set(CAMERAS), 60,
             "not every camera has a finished segment")
    return moved


def test_a_stopping_worker_hands_its_cameras_over_without_a_hole(tmp_path):
    mount = SimulatedCamera(id="m0", width=320, height=180, fps=25, gop=25, bitrate_kbps=300)
    prefix = f"vms:{unique('drain-')}:"
    names = [unique(f"w{i}-") for i in range(2)]
    client = redis.Redis.from_url(REDIS_URL)
    store = LeaseStore(client, prefix)
    processes: dict[str, object] = {}
    with CameraSimulator([mount]).start() as sim, throwaway_database(PG) as database_url:
        configs = _configs(tmp_path, names, sim, database_url, REDIS_URL,
                           {"key_prefix": prefix, "lease_seconds": 6, "handover_seconds": HANDOVER})
        db = Database(database_url)
        try:
            moved = _start_spread(tmp_path, names, configs, store, db, processes)
            leaving, staying = names
            told = time.time()
            processes[leaving].send_signal(signal.SIGTERM)
            # While it hands its cameras over, `vms workers` lists it as draining with the
            # cameras it still records (it used to vanish from the list at once).
            def seen_draining() -> dict[str, dict] | None:
                listed = _listed(configs[staying])
                return listed if listed.get(leaving, {}).get("state") == "draining" else None

            draining = wait_for(seen_draining, 30, "the stopping worker was never listed as draining")
            assert draining[staying]["state"] == "live"
            # Those it held, and any it was still handing over from the second worker's arrival.
            assert draining[leaving]["cameras"] and set(draining[leaving]["cameras"]) <= set(CAMERAS), draining[leaving]
            assert set(draining[leaving]["draining"]["cameras"]) <= set(CAMERAS)
            assert draining[leaving]["draining"]["pid"] == processes[leaving].pid
            assert "DRAINING" in format_worker(draining[leaving])
            processes[leaving].wait(60)
            took = time.time() - told
            assert processes[leaving].returncode == 0
            assert all(w == staying for w in _owners(store).values())
            # Then gone.
            assert sorted(_listed(configs[staying])) == [staying]
        finally:
            stop_processes(processes.values())
        rows = segments(db)
        db.dispose()
    client.close()
    print(f"the stopping worker exited {took:.1f} s after SIGTERM")
    _assert_overlap(rows, moved, leaving, staying, told)
    log = (tmp_path / f"{leaving}.log").read_text()
    assert "handing 2 cameras over" in log
    assert "is gone" not in (tmp_path / f"{staying}.log").read_text()


def _assert_overlap(rows, moved, leaving, staying, told) -> None:
    """Each moved camera's first row on the staying worker starts before the leaving one's last ends."""
    for camera_id in moved:
        theirs = [s for s in rows if s.camera_id == camera_id and s.worker_id == leaving]
        ours = [s for s in rows if s.camera_id == camera_id and s.worker_id == staying and s.start.timestamp() > told - 5]
        assert theirs and ours, camera_id
        assert theirs[-1].end is not None
        assert ours[0].start <= theirs[-1].end, (camera_id, (ours[0].start - theirs[-1].end).total_seconds())


@pytest.mark.skipif(redis_server_missing() is not None, reason=str(redis_server_missing()))
def test_a_worker_stopped_while_redis_is_down_records_on_until_it_can_hand_over(tmp_path):
    """SIGTERM during a Redis outage: nobody can take the cameras, so the drain's time limit must
    not count the outage. A trial found the worker giving up after ``drain_seconds`` and its
    cameras recorded by nobody until Redis came back: holes of 58 s."""
    drain_seconds = 3.0
    mount = SimulatedCamera(id="m0", width=320, height=180, fps=25, gop=25, bitrate_kbps=300)
    server = RedisServer(tmp_path / "redis", durable=False).start()
    prefix = f"vms:{unique('drain-outage-')}:"
    names = [unique(f"w{i}-") for i in range(2)]
    processes: dict[str, object] = {}
    try:
        with CameraSimulator([mount]).start() as sim, throwaway_database(PG) as database_url:
            configs = _configs(tmp_path, names, sim, database_url, server.url,
                               {"key_prefix": prefix, "lease_seconds": 3, "handover_seconds": HANDOVER,
                                "drain_seconds": drain_seconds})
            db = Database(database_url)
            client = redis.Redis.from_url(server.url)
            store = LeaseStore(client, prefix)
            try:
                moved = _start_spread(tmp_path, names, configs, store, db, processes)
                leaving, staying = names

                server.stop()  # empty when it comes back: every lease is taken anew
                told = time.time()
                processes[leaving].send_signal(signal.SIGTERM)
                # Well past drain_seconds, Redis still down: it must still be recording.
                wait_for(lambda: time.time() - told > drain_seconds + 5, drain_seconds + 10, "", interval=0.5)
                assert processes[leaving].poll() is None, "the worker stopped with nobody to take its cameras"
                assert "cannot hand its cameras over" in (tmp_path / f"{leaving}.log").read_text()
                server.start()
                processes[leaving].wait(60)
                assert processes[leaving].returncode == 0
                wait_for(lambda: all(w == staying for w in _owners(store).values()), 30, "the staying worker took not all")
                wait_for(lambda: {s.camera_id for s in segments(db) if s.worker_id == staying
                                  and s.start.timestamp() > told} >= set(moved), 30,
                         "the staying worker did not record the moved cameras")
            finally:
                stop_processes(processes.values())
                client.close()
            rows = segments(db)
            db.dispose()
    finally:
        server.stop()
    _assert_overlap(rows, moved, leaving, staying, told)
