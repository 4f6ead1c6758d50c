"""``vms recordings verify`` finds every broken index invariant and exits non-zero."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from tests.support.recordings import record
from vms.config import Settings
from vms.db import Database, Segment
from vms.recordings.index import SegmentClosed, SegmentIndex, SegmentOpened
from vms.recordings.invariants import IndexInvariantError


def verify_cli(data_dir, *args):
    env = {**os.environ, "VMS_DATA_DIR": str(data_dir)}
    return subprocess.run([sys.executable, "-m", "vmsapp.cli", "recordings", "verify", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_verify_is_clean_on_a_good_recording_and_reports_each_violation(tmp_path):
    settings = Settings(data_dir=tmp_path)
    db = Database(settings.effective_database_url)
    db.create_schema()
    start = float(int(time.time()) - 600)
    record(db, settings.recordings_dir, "cam-a", start, seconds=9, segment_seconds=3)
    record(db, settings.recordings_dir, "cam-b", start, seconds=6, segment_seconds=3)
    clean = verify_cli(tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "5 segments checked" in clean.stdout and " 0 violations" in clean.stdout

    with db.session() as session:
        a = session.query(Segment).filter_by(camera_id="cam-a").order_by(Segment.start).all()
        b = session.query(Segment).filter_by(camera_id="cam-b").order_by(Segment.start).all()
        # Row 2 of cam-a claims 0.5 s more than its file holds and overlaps row 3;
        # row 3 claims one frame too many; cam-b's first file disappears.
        session.execute(update(Segment).where(Segment.id == a[1].id).values(end=a[1].end + timedelta(seconds=0.5)))
        session.execute(update(Segment).where(Segment.id == a[2].id).values(frames=a[2].frames + 1))
        missing = b[0].path
    (settings.recordings_dir / missing).unlink()
    db.dispose()

    broken = verify_cli(tmp_path)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    out = broken.stdout
    assert "duration: index says 3.500 s, file holds 3.000 s" in out
    assert "overlap: starts 0.500 s before the previous row ends" in out
    assert "frames: index says 76 frames, file holds 75" in out
    assert f"{missing}: missing" in out
    assert " 4 violations" in out

    only_b = verify_cli(tmp_path, "--camera", "cam-b", "--since", "2h")
    assert only_b.returncode == 1 and " 1 violations" in only_b.stdout
    assert verify_cli(tmp_path, "--since", "not a time").returncode == 2


def test_the_index_refuses_overlapping_and_future_rows_where_they_are_written(db):
    index = SegmentIndex(db)
    now = datetime.now(timezone.utc)
    first = index.begin(SegmentOpened("cam", now - timedelta(seconds=60), "cam/a.mp4", "h264", 320, 180))
    index.finish(first, SegmentClosed(now - timedelta(seconds=50), 1000, 250, 10))
    with pytest.raises(IndexInvariantError, match="overlap"):
        index.begin(SegmentOpened("cam", now - timedelta(seconds=55), "cam/b.mp4", "h264", 320, 180))
    with pytest.raises(IndexInvariantError, match="future"):
        index.begin(SegmentOpened("cam", now + timedelta(seconds=5), "cam/c.mp4", "h264", 320, 180))
    second = index.begin(SegmentOpened("cam", now - timedelta(seconds=50), "cam/d.mp4", "h264", 320, 180))
    with pytest.raises(IndexInvariantError, match="future"):
        index.finish(second, SegmentClosed(now + timedelta(seconds=3), 1000, 250, 10))
    with pytest.raises(IndexInvariantError, match="negative"):
        index.finish(second, SegmentClosed(now - timedelta(seconds=51), 1000, 250, 10))
    index.finish(second, SegmentClosed(now - timedelta(seconds=40), 1000, 250, 10))
    assert [s.path for s in index.of_camera("cam")] == ["cam/a.mp4", "cam/d.mp4"]


def test_a_row_left_open_whose_file_stopped_growing_is_reported_abandoned(tmp_path):
    settings = Settings(data_dir=tmp_path)
    db = Database(settings.effective_database_url)
    db.create_schema()
    now = time.time()
    record(db, settings.recordings_dir, "cam-a", float(int(now) - 600), seconds=3, segment_seconds=3)
    with db.session() as session:
        sample = settings.recordings_dir / session.query(Segment).filter_by(camera_id="cam-a").one().path
    opened = datetime.fromtimestamp(now - 400, timezone.utc)
    for camera_id, worker_id, quiet in (("cam-live", "w-live", 2.0), ("cam-dead", "w-dead", 300.0)):
        path = f"{camera_id}/open.mp4"
        (settings.recordings_dir / camera_id).mkdir(parents=True)
        (settings.recordings_dir / path).write_bytes(sample.read_bytes())
        os.utime(settings.recordings_dir / path, (now - quiet, now - quiet))
        SegmentIndex(db, worker_id).begin(SegmentOpened(camera_id, opened, path, "h264", 320, 180))
    db.dispose()

    # Both rows are open; only the one whose file stopped growing 300 s ago (over 2 x 60 s + 6 s) is a fault.
    result = verify_cli(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    out = " ".join(result.stdout.split())
    assert re.search(r"cam-dead/open\.mp4: abandoned: left open, its file unchanged for 30\d s \(bound 126 s", out), out
    assert "cam-live/open.mp4" not in out
    assert "(1 being written, 1 left open with no writer), 1 violations" in out, out
