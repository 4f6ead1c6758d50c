"""A second worker under an id already in use (two ``vms worker`` on one host without
VMS_WORKER_ID: both default to the host name) refuses to start, before repairing anything; a
worker restarting after its process died (its advertisement not yet expired) starts."""

from __future__ import annotations

import subprocess
import threading
import sys
from datetime import datetime, timezone

import pytest
import redis

from tests.support.cluster import PROCESS_START_SECONDS, REDIS_URL, ROOT, redis_available, unique, write_config
from vms.bus.memory import MemoryBus
from vms.cluster.identity import DuplicateWorker
from vms.cluster.members import Membership
from vms.config import Settings
from vms.db import Database
from vms.recordings.index import SegmentIndex, SegmentOpened
from vmsapp.worker import StreamWorker

pytestmark = [
    pytest.mark.skipif(redis_available() is not None, reason=str(redis_available())),
    pytest.mark.timeout(240),
]


def _settings(tmp_path, prefix: str, worker_id: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'shared.db'}", redis_url=REDIS_URL,
                    worker_id=worker_id, cluster={"key_prefix": prefix, "lease_seconds": 3}, storage={"min_free": 0})


def _worker(settings: Settings) -> StreamWorker:
    db = Database(settings.effective_database_url)
    db.create_schema()
    return StreamWorker(settings, db, MemoryBus())


def test_a_second_worker_under_a_live_id_refuses_before_repairing_its_segments(tmp_path):
    prefix = f"vms:{unique('ident-')}:"
    first = _worker(_settings(tmp_path, prefix, "host-a")).start()
    try:
        # A segment the first worker is writing now: the second one's start-up repair would close it.
        opened = SegmentIndex(first.db, "host-a").begin(SegmentOpened(
            "cam-a", datetime.now(timezone.utc), "cam-a/being-written.mp4", "h264", 320, 180))
        second = _worker(_settings(tmp_path, prefix, "host-a"))
        with pytest.raises(DuplicateWorker) as refused:
            second.start()
        message = str(refused.value)
        assert "VMS_WORKER_ID" in message and "'host-a'" in message, message
        assert "pid" in message, "the error names the process that holds the id"
        open_ids = [s.id for s in SegmentIndex(first.db, "host-a").unfinished()]
        assert open_ids == [opened], "the refused worker repaired the live worker's open segment"
        assert "host-a" in Membership(redis.Redis.from_url(REDIS_URL), prefix).live(), "the live worker lost its place"
    finally:
        first.stop()


def test_a_worker_restarting_after_its_process_died_is_not_refused(tmp_path):
    prefix = f"vms:{unique('ident-')}:"
    # What a kill -9 leaves: an advertisement (with presence) still within its TTL, no subscriber.
    Membership(redis.Redis.from_url(REDIS_URL), prefix).heartbeat(
        "host-b", 30_000, {"host": "elsewhere", "pid": 1, "presence": True})
    restarted = _worker(_settings(tmp_path, prefix, "host-b")).start()
    restarted.stop()


def test_vms_worker_exits_with_the_fix_in_its_error(tmp_path):
    prefix = f"vms:{unique('ident-')}:"
    first = _worker(_settings(tmp_path, prefix, "host-c")).start()
    try:
        config = write_config(tmp_path / "vms.yaml", data_dir=str(tmp_path / "data"),
                              database_url=f"sqlite:///{tmp_path / 'shared.db'}", redis_url=REDIS_URL,
                              cluster={"key_prefix": prefix, "lease_seconds": 3}, storage={"min_free": 0})
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "VMS_WORKER_ID": "host-c", "VMS_METRICS__PORT": "0"}
        done = subprocess.run([sys.executable, "-m", "vmsapp.cli", "worker", "--config", str(config)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=PROCESS_START_SECONDS)
        output = " ".join((done.stdout + done.stderr).split())
        assert done.returncode == 2, output
        assert "already used by a live worker" in output and "VMS_WORKER_ID" in output, output
    finally:
        first.stop()


def test_without_presence_a_renewed_advertisement_refuses_and_an_expiring_one_does_not():
    from vms.cluster.identity import ensure_unique

    client = redis.Redis.from_url(REDIS_URL)
    prefix = f"vms:{unique('ident-')}:"
    members = Membership(client, prefix)
    info = {"host": "elsewhere", "pid": 1, "presence": False}  # a worker run with presence_grace_seconds 0
    stop = threading.Event()

    def renew() -> None:  # what a live worker's keeper does every lease/3
        while not stop.is_set():
            members.heartbeat("host-d", 1500, info)
            stop.wait(0.5)

    members.heartbeat("host-d", 1500, info)
    keeper = threading.Thread(target=renew, daemon=True)
    keeper.start()
    try:
        with pytest.raises(DuplicateWorker):
            ensure_unique(client, prefix, "host-d", 1.5)
    finally:
        stop.set()
        keeper.join(5)
    # Its process died: the advertisement expires within the lease period and the id is free.
    members.heartbeat("host-d", 1500, info)
    ensure_unique(client, prefix, "host-d", 1.5)
    assert "host-d" not in members.live()
