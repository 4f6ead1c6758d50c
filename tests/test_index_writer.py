"""240 recorders' index writes go through one writer: one connection, grouped transactions."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, select

from tests.support.cluster import postgres_admin_url, throwaway_database
from vms.db import Database, Segment
from vms.recordings.buffered_index import BufferedSegmentIndex
from vms.recordings.index import SegmentClosed, SegmentOpened

PG = postgres_admin_url()
pytestmark = [
    pytest.mark.skipif(PG is None, reason="PostgreSQL does not answer on 127.0.0.1:5432"),
    pytest.mark.timeout(120),
]

STREAMS = 240


def test_240_streams_write_the_index_through_one_connection(tmp_path):
    with throwaway_database(PG) as url:
        db = Database(url)
        db.create_schema()
        in_use = {"now": 0, "most": 0}
        lock = threading.Lock()

        def checkout(*_):
            with lock:
                in_use["now"] += 1
                in_use["most"] = max(in_use["most"], in_use["now"])

        def checkin(*_):
            with lock:
                in_use["now"] -= 1

        event.listen(db.engine, "checkout", checkout)
        event.listen(db.engine, "checkin", checkin)
        index = BufferedSegmentIndex(db, "w1", tmp_path / "journal.jsonl").start()
        start = datetime(2026, 5, 1, 8, 0, tzinfo=timezone.utc)
        errors: list[BaseException] = []
        go = threading.Event()

        def recorder(n: int) -> None:
            try:
                go.wait()
                for segment in range(3):
                    begun = start + timedelta(seconds=60 * segment)
                    segment_id = index.begin(SegmentOpened(f"cam-{n}", begun, f"cam-{n}/{segment}.mp4", "h264", 320, 180))
                    for second in (5, 10, 15):
                        index.progress(segment_id, begun + timedelta(seconds=second), 1000 * second)
                    index.finish(segment_id, SegmentClosed(begun + timedelta(seconds=60), 60_000, 1500, 60))
            except BaseException as exc:  # noqa: BLE001  (reported below)
                errors.append(exc)

        threads = [threading.Thread(target=recorder, args=(n,)) for n in range(STREAMS)]
        for thread in threads:
            thread.start()
        go.set()
        for thread in threads:
            thread.join(60)
        index.stop()
        with db.session() as session:
            rows = session.scalars(select(Segment)).all()
        db.dispose()
    print(f"{index.writer.writes} index writes in {index.writer.batches} transactions; "
          f"at most {in_use['most']} connections at once")
    assert not errors, errors[:3]
    assert len(rows) == STREAMS * 3 and all(r.end is not None and r.bytes == 60_000 for r in rows)
    assert index.pending == 0 and index.dropped == 0
    assert index.writer.batches < index.writer.writes / 2, "writes were not grouped"
    assert in_use["most"] <= 2, "recorders opened connections of their own"
