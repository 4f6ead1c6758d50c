"""Redis restarts (kill -9, AOF) while a worker records and events flow: no index row or event is lost."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from streams.simulator import CameraSimulator, SimulatedCamera, simulator_available
from vmsapp.worker import StreamWorker
from tests.support.cluster import RedisServer, redis_server_missing, wait_for
from tests.support.system import FAST_INGEST
from vms.bus.memory import MemoryBus
from vms.bus.streams import RedisQueue
from vms.cameras.registry import CameraRegistry
from vms.cluster.events import EventStoreConsumer, QueuedEventSink
from vms.config import Settings
from vms.db import Database
from vms.db.events import EventRow

pytestmark = [
    pytest.mark.skipif(not simulator_available(), reason="GStreamer RTSP server (Debian packages) missing"),
    pytest.mark.skipif(redis_server_missing() is not None, reason=str(redis_server_missing())),
    pytest.mark.timeout(180),
]


def test_redis_restart_during_recording_loses_no_rows_or_events(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    camera = SimulatedCamera(id="gate-04", width=320, height=180, fps=25, gop=25, bitrate_kbps=300)
    with CameraSimulator([camera]).start() as sim:
        settings = Settings(
            data_dir=tmp_path / "w", redis_url=server.url, worker_id="w", storage={"min_free": 0}, ingest=FAST_INGEST,
            cameras=[{"id": camera.id, "name": "g", "group": "gateway", "main_url": sim.url(camera.id), "recording": {"segment_seconds": 2}}],
        )
        db = Database(settings.effective_database_url)
        db.create_schema()
        CameraRegistry(db).sync_from_config(settings.groups, settings.cameras)
        worker = StreamWorker(settings, db, MemoryBus()).start()
        queue = RedisQueue(server.url, "events", "event-store", claim_idle_seconds=2)
        consumer = EventStoreConsumer(db, queue, "store-1")
        consumer.runner.retry_seconds = 0.3
        consumer.start()
        sink = QueuedEventSink(queue, "w")
        produced: list[int] = []
        stop = threading.Event()

        def produce() -> None:
            n = 0
            while not stop.is_set():
                at = time.time()
                sink.close(sink.open(camera.id, "motion", at, details={"n": n}), at + 0.05)
                produced.append(n)
                n += 1
                time.sleep(0.1)

        producer = threading.Thread(target=produce)
        try:
            wait_for(lambda: worker.pipelines and worker.index.of_camera(camera.id), 30, "not recording")
            producer.start()
            time.sleep(3)
            server.kill()
            down = time.time()
            time.sleep(1.0)
            server.start()
            up = time.time()
            time.sleep(5)
            stop.set()
            producer.join(5)
            wait_for(lambda: queue.buffered() == 0 and consumer.runner.handled >= 2 * len(produced), 30,
                     f"events missing: {consumer.runner.handled} of {2 * len(produced)} stored")
            assert worker.pipelines, "a Redis restart shorter than the lease must not stop recording"
        finally:
            stop.set()
            consumer.stop()
            queue.close()
            worker.stop()
            server.stop()

    rows = worker.index.of_camera(camera.id)
    on_disk = sorted(p.relative_to(worker.recordings_dir).as_posix() for p in worker.recordings_dir.rglob("*.mp4"))
    assert on_disk == sorted(r.path for r in rows), "every file has exactly one index row"
    assert all(r.end is not None for r in rows)
    assert rows[0].start.timestamp() < down and rows[-1].end.timestamp() > up
    for before, after in zip(rows, rows[1:]):
        assert abs((after.start - before.end).total_seconds()) < 0.1, "recording went on while Redis restarted"
    with db.session() as session:
        stored = list(session.scalars(select(EventRow)))
    assert sorted(e.details["n"] for e in stored) == produced, "every event stored exactly once"
    assert all(e.end is not None for e in stored)
    db.dispose()
