"""A consumer killed in the middle of an event: another one reclaims it (XAUTOCLAIM), stored exactly once."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest
import redis
from sqlalchemy import select

from tests.support.cluster import REDIS_URL, ROOT, redis_available, unique
from vms.bus.streams import MemoryQueue, QueueConsumer, RedisQueue
from vms.cluster.events import EventStoreConsumer, QueuedEventSink
from vms.db import Database
from vms.db.events import EventRow

pytestmark = pytest.mark.timeout(120)

DOOMED = textwrap.dedent(
    """
    import os, signal, sys
    from vms.bus.streams import RedisQueue
    from vms.cluster.events import EventStoreConsumer
    from vms.db import Database

    redis_url, prefix, database_url, when, name = sys.argv[1:6]
    queue = RedisQueue(redis_url, "events", "event-store", prefix=prefix)
    store = EventStoreConsumer(Database(database_url), queue, name)

    def handler(message):
        if when == "after-write":
            store.handle(message)   # committed to the database...
        os.kill(os.getpid(), signal.SIGKILL)  # ...and killed before XACK

    store.runner.handler = handler
    store.runner.run_once(block_seconds=5)
    """
)


def crash_while_handling(tmp_path, prefix: str, database_url: str, when: str) -> None:
    script = tmp_path / "doomed.py"
    script.write_text(DOOMED)
    done = subprocess.run([sys.executable, str(script), REDIS_URL, prefix, database_url, when, f"doomed-{when}"], cwd=ROOT, timeout=60)
    assert done.returncode == -9, "the consumer was meant to die with SIGKILL"


def events(db: Database) -> list[EventRow]:
    with db.session() as session:
        return list(session.scalars(select(EventRow).order_by(EventRow.id)))


@pytest.mark.skipif(redis_available() is not None, reason=str(redis_available()))
def test_killed_consumer_event_is_reclaimed_and_stored_exactly_once(tmp_path):
    prefix = f"vms:{unique('crash-')}:"
    database_url = f"sqlite:///{tmp_path / 'vms.db'}"
    db = Database(database_url)
    db.create_schema()
    queue = RedisQueue(REDIS_URL, "events", "event-store", claim_idle_seconds=1.0, prefix=prefix)
    sink = QueuedEventSink(queue, "w1")
    try:
        # 1. Killed after the database write of an event's opening, before the acknowledgement
        #    (it had read the opening and the closing: both stay pending).
        sink.close(sink.open("cam-1", "intrusion", time.time(), zone="gate"), time.time() + 1)
        crash_while_handling(tmp_path, prefix, database_url, "after-write")
        assert len(events(db)) == 1 and queue.pending() == 2
        # 2. Another consumer killed before writing anything.
        sink.close(sink.open("cam-2", "loitering", time.time()), time.time() + 1)
        crash_while_handling(tmp_path, prefix, database_url, "before-write")
        assert len(events(db)) == 1 and queue.pending() == 4

        survivor = EventStoreConsumer(db, queue, "survivor")
        time.sleep(1.2)  # the dead consumer's deliveries are idle long enough to be claimed
        while survivor.runner.run_once(block_seconds=0.2):
            pass
        assert queue.pending() == 0
        assert survivor.runner.handled == 4, "every delivery of the dead consumers was reclaimed"
    finally:
        queue.close()
        client = redis.Redis.from_url(REDIS_URL)
        client.delete(*client.scan_iter(f"{prefix}*"))
    first, second = events(db)
    assert first.camera_id == "cam-1" and first.zone == "gate" and first.end is not None, "stored once, then closed"
    assert second.camera_id == "cam-2" and second.end is not None
    db.dispose()


def test_memory_queue_has_the_same_delivery_semantics(tmp_path):
    queue = MemoryQueue(unique("stream-"), "g", claim_idle_seconds=0.2)
    for n in range(3):
        queue.add({"n": n})
    first = queue.read("a", count=2, block_seconds=0)
    assert [d.message["n"] for d in first] == [0, 1]
    queue.ack([first[0].id])
    assert [d.message["n"] for d in queue.own_pending("a")] == [1]
    assert queue.claim_stale("b") == []
    time.sleep(0.25)
    assert [d.message["n"] for d in queue.claim_stale("b")] == [1]
    seen = []
    runner = QueueConsumer(queue, "b", lambda m: seen.append(m["n"]))
    while runner.run_once(block_seconds=0):
        pass
    assert seen == [1, 2] and queue.pending() == 0


def test_events_left_open_by_a_dead_worker_are_closed_at_its_restart(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'vms.db'}")
    db.create_schema()
    queue = MemoryQueue(unique("events-"), "event-store")
    store = EventStoreConsumer(db, queue, "store")
    QueuedEventSink(queue, "w1").open("cam-1", "stopped_vehicle", time.time() - 5)  # the worker dies here
    store.runner.run_once(block_seconds=0)
    assert events(db)[0].end is None
    restarted = QueuedEventSink(queue, "w1", db=db)
    assert restarted.close_orphans() == 1
    store.runner.run_once(block_seconds=0)
    assert events(db)[0].end is not None
    assert QueuedEventSink(queue, "w1", db=db).close_orphans() == 0
    db.dispose()
