"""PostgreSQL unreachable for a while: index rows and events are buffered, then flushed; none lost."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
import redis
from sqlalchemy import func, select

from streams.simulator import CameraSimulator, SimulatedCamera, simulator_available
from vmsapp.worker import StreamWorker
from tests.support.cluster import REDIS_URL, TcpProxy, postgres_admin_url, redis_available, throwaway_database, unique, wait_for
from tests.support.system import FAST_INGEST
from vms.bus.memory import MemoryBus
from vms.bus.streams import RedisQueue
from vms.cameras.registry import CameraRegistry
from vms.cluster.events import EventStoreConsumer, QueuedEventSink
from vms.config import Settings
from vms.db import Database
from vms.db.events import EventRow
from vms.recordings.buffered_index import BufferedSegmentIndex
from vms.recordings.index import SegmentClosed, SegmentOpened

PG = postgres_admin_url()
pytestmark = [
    pytest.mark.skipif(PG is None, reason="PostgreSQL does not answer on 127.0.0.1:5432 (user postgres or root, db test)"),
    pytest.mark.timeout(180),
]


def proxied(url: str, proxy: TcpProxy) -> str:
    """The same database reached through ``proxy`` (and giving up quickly when it is cut)."""
    parts = urlsplit(url)
    user = parts.username
    return f"postgresql://{user}@127.0.0.1:{proxy.port}{parts.path}?connect_timeout=2"


@pytest.fixture
def database():
    with throwaway_database(PG) as url:
        yield url


@pytest.mark.skipif(not simulator_available(), reason="GStreamer RTSP server (Debian packages) missing")
def test_recording_through_a_database_outage_loses_no_index_rows(tmp_path, database):
    proxy = TcpProxy("127.0.0.1", 5432).start()
    camera = SimulatedCamera(id="tunnel-03", scene="tunnel", width=320, height=180, fps=25, gop=25, bitrate_kbps=300)
    with CameraSimulator([camera]).start() as sim:
        settings = Settings(
            data_dir=tmp_path / "w", database_url=proxied(database, proxy), worker_id="w", storage={"min_free": 0},
            ingest=FAST_INGEST,
            cameras=[{"id": camera.id, "name": "t", "group": "tunnel", "main_url": sim.url(camera.id), "recording": {"segment_seconds": 2}}],
        )
        db = Database(settings.effective_database_url)
        db.create_schema()
        CameraRegistry(db).sync_from_config(settings.groups, settings.cameras)
        worker = StreamWorker(settings, db, MemoryBus()).start()
        try:
            wait_for(lambda: len(worker.index.of_camera(camera.id)) >= 2, 30, "not recording")
            proxy.cut()
            wait_for(lambda: worker.index.pending >= 4, 20, "nothing was buffered while the database was away")
            time.sleep(3)
            journal = settings.data_dir / "index-journal-w.jsonl"
            assert journal.read_text().count("\n") == worker.index.pending, "every buffered write is journaled"
            proxy.restore()
            wait_for(lambda: worker.index.pending == 0, 20, "buffered rows were not flushed")
            time.sleep(3)
        finally:
            worker.stop()
            proxy.cut()
    direct = Database(database)
    rows = worker.index.__class__(direct, "w").of_camera(camera.id)
    on_disk = sorted(p.relative_to(worker.recordings_dir).as_posix() for p in worker.recordings_dir.rglob("*.mp4"))
    assert on_disk == sorted(r.path for r in rows), "every file has exactly one index row"
    for row in rows:
        assert row.end is not None and row.bytes == (worker.recordings_dir / row.path).stat().st_size
    for before, after in zip(rows, rows[1:]):
        assert abs((after.start - before.end).total_seconds()) < 0.1, "recording went on through the outage"
    assert journal.read_text() == ""
    direct.dispose()
    db.dispose()


def test_journal_written_while_the_database_is_down_is_replayed_after_a_crash(tmp_path, database):
    proxy = TcpProxy("127.0.0.1", 5432).start()
    db = Database(proxied(database, proxy))
    db.create_schema()
    journal = tmp_path / "journal.jsonl"
    index = BufferedSegmentIndex(db, "w", journal, retry_seconds=0.2).start()
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    opened = [SegmentOpened("cam", start + timedelta(seconds=10 * i), f"cam/x/{i}.mp4", "h264", 320, 180) for i in range(4)]
    first = index.begin(opened[0])
    assert first > 0
    proxy.cut()
    index.finish(first, SegmentClosed(start + timedelta(seconds=10), 1000, 250, 10))
    ids = [index.begin(o) for o in opened[1:]]
    assert all(i < 0 for i in ids), "provisional ids while the database is away"
    index.finish(ids[0], SegmentClosed(start + timedelta(seconds=20), 2000, 250, 10))
    index.remove(ids[1])
    assert index.pending == 6
    # kill -9 while the database is down: nothing is flushed, the journal is all that is left.
    index._retry.stop(5)  # its retry thread ends; the final flush of stop() never happens
    db.dispose()

    proxy.restore()
    db = Database(proxied(database, proxy))
    replayed = BufferedSegmentIndex(db, "w", journal).start()
    assert replayed.pending == 0 and journal.read_text() == ""
    rows = {r.path: r for r in replayed.of_camera("cam")}
    assert sorted(rows) == ["cam/x/0.mp4", "cam/x/1.mp4", "cam/x/3.mp4"]
    assert rows["cam/x/0.mp4"].bytes == 1000 and rows["cam/x/1.mp4"].bytes == 2000
    assert rows["cam/x/3.mp4"].end is None, "left open: crash repair settles it"
    # Replaying the same journal again changes nothing (idempotent by path).
    journal.write_text("".join(__import__("json").dumps(op) + "\n" for op in [
        {"op": "begin", "path": "cam/x/0.mp4", "camera_id": "cam", "start": start.isoformat(), "codec": "h264",
         "width": 320, "height": 180, "worker_id": "w"}]))
    again = BufferedSegmentIndex(db, "w", journal).start()
    assert len(again.of_camera("cam")) == 3
    for item in (replayed, again):
        item.stop()
    db.dispose()
    proxy.cut()


@pytest.mark.skipif(redis_available() is not None, reason=str(redis_available()))
def test_events_queued_while_the_database_is_down_are_stored_once(tmp_path, database):
    proxy = TcpProxy("127.0.0.1", 5432).start()
    db = Database(proxied(database, proxy))
    db.create_schema()
    prefix = f"vms:{unique('events-')}:"
    queue = RedisQueue(REDIS_URL, "events", "event-store", prefix=prefix)
    sink = QueuedEventSink(queue, "w1")
    consumer = EventStoreConsumer(db, queue, "store-1")
    consumer.runner.retry_seconds = 0.3
    consumer.start()
    now = time.time()
    try:
        def burst(n: int, offset: int) -> None:
            for i in range(n):
                event_id = sink.open("cam-1", "motion", now + offset + i, score=0.5, details={"n": offset + i})
                sink.close(event_id, now + offset + i + 0.5, score=0.9)

        burst(5, 0)
        wait_for(lambda: queue.pending() == 0 and consumer.runner.handled == 10, 10, "events not stored")
        proxy.cut()
        burst(10, 100)
        time.sleep(2)
        assert consumer.runner.handled == 10 and consumer.runner.failures >= 1, "the database was away"
        proxy.restore()
        burst(5, 200)
        wait_for(lambda: consumer.runner.handled == 40, 20, "queued events not stored after the outage")
        assert queue.pending() == 0
    finally:
        consumer.stop()
        queue.close()
        proxy.cut()
        client = redis.Redis.from_url(REDIS_URL)
        client.delete(*client.scan_iter(f"{prefix}*"))
    direct = Database(database)
    with direct.session() as session:
        rows = list(session.scalars(select(EventRow).order_by(EventRow.start)))
        assert session.scalar(select(func.count()).select_from(EventRow)) == 20
    assert sorted(r.details["n"] for r in rows) == list(range(5)) + list(range(100, 110)) + list(range(200, 205))
    assert all(r.end is not None and r.score == 0.9 for r in rows)
    direct.dispose()
    db.dispose()
