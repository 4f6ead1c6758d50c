"""Rows replayed from the index journal (written while the database was away) obey the same
invariants as rows written live: a replayed row that would overlap or reach into the future is
corrected, logged and kept, never written as it came and never lost."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

from vms.recordings.buffered_index import BufferedSegmentIndex
from vms.recordings.index import SegmentClosed, SegmentIndex, SegmentOpened


def _begin(path: str, start: datetime) -> dict:
    return {"op": "begin", "path": path, "camera_id": "cam", "start": start.isoformat(), "codec": "h264",
            "width": 320, "height": 180, "worker_id": "w"}


def _finish(path: str, end: datetime) -> dict:
    return {"op": "finish", "path": path, "end": end.isoformat(), "bytes": 1000, "frames": 50, "keyframes": 2}


def test_replayed_rows_that_would_overlap_or_end_in_the_future_are_corrected_not_lost(db, tmp_path, caplog):
    now = datetime.now(timezone.utc)
    t0 = now - timedelta(minutes=5)
    live = SegmentIndex(db, worker_id="w")
    first = live.begin(SegmentOpened("cam", t0, "cam/a.mp4", "h264", 320, 180))
    live.finish(first, SegmentClosed(t0 + timedelta(seconds=10), 1000, 250, 10))
    journal = tmp_path / "journal.jsonl"
    ops = [
        _begin("cam/b.mp4", t0 + timedelta(seconds=8)),  # starts 2 s inside the row before it
        _finish("cam/b.mp4", t0 + timedelta(seconds=20)),
        _begin("cam/c.mp4", t0 + timedelta(seconds=20)),
        _finish("cam/c.mp4", now + timedelta(hours=1)),  # a clock that jumped: ends in the future
    ]
    journal.write_text("".join(json.dumps(op) + "\n" for op in ops), encoding="utf-8")

    index = BufferedSegmentIndex(db, worker_id="w", journal=journal).start()
    try:
        assert index.pending == 0
    finally:
        index.stop()

    rows = {row.path: row for row in SegmentIndex(db).of_camera("cam")}
    assert set(rows) == {"cam/a.mp4", "cam/b.mp4", "cam/c.mp4"}, "a replayed row was lost"
    assert rows["cam/b.mp4"].start == t0 + timedelta(seconds=10)  # moved to where a.mp4 ends
    assert rows["cam/c.mp4"].end is not None and rows["cam/c.mp4"].end <= datetime.now(timezone.utc)
    ordered = sorted(rows.values(), key=lambda row: row.start)
    for before, after in zip(ordered, ordered[1:]):
        assert before.end is not None and before.end <= after.start
    assert "index replay" in caplog.text


def test_a_close_that_would_end_in_the_future_waits_until_then_and_is_written_exactly(db):
    """A line the time model is still bringing back to its arrivals can make a segment end a
    second in the future; refused, the row stayed open for good ("abandoned" in the soak)."""
    index = BufferedSegmentIndex(db, worker_id="w", retry_seconds=0.2).start()
    try:
        now = datetime.now(timezone.utc)
        segment = index.begin(SegmentOpened("cam", now - timedelta(seconds=9), "cam/d.mp4", "h264", 320, 180))
        end = now + timedelta(seconds=1.5)
        index.finish(segment, SegmentClosed(end, 1000, 263, 11))  # refused before: IndexInvariantError
        deadline = time.monotonic() + 30
        while index.pending and time.monotonic() < deadline:
            time.sleep(0.05)
        assert index.pending == 0
    finally:
        index.stop()
    (row,) = SegmentIndex(db).of_camera("cam")
    assert row.end == end and row.frames == 263  # as the file holds it, not clipped to "now"
