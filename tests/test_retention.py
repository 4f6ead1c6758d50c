"""Retention: per-group age, quota and free-space floor; oldest first; evidence locks kept."""

import shutil
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from vms.cameras.registry import CameraRegistry
from vms.config import CameraConfig, GroupConfig, StorageConfig
from vms.db import Segment
from vms.recordings.index import SegmentClosed, SegmentIndex, SegmentOpened
from vms.recordings.retention import Retention, lock_range

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
MB = 1_000_000


@pytest.fixture
def registry(db):
    registry = CameraRegistry(db)
    groups = [GroupConfig(id="tunnel", name="T", retention_days=30), GroupConfig(id="rented", name="R", retention_days=7)]
    cameras = [
        CameraConfig(id="t1", name="T1", group="tunnel", main_url="rtsp://h/t1"),
        CameraConfig(id="r1", name="R1", group="rented", main_url="rtsp://h/r1"),
    ]
    registry.sync_from_config(groups, cameras)
    return registry


def add_segment(index, recordings_dir, camera, days_ago, size=MB, finished=True):
    start = NOW - timedelta(days=days_ago)
    path = f"{camera}/{start:%Y-%m-%d}/{start:%H%M%S}.mp4"
    (recordings_dir / path).parent.mkdir(parents=True, exist_ok=True)
    (recordings_dir / path).write_bytes(b"\0" * size)
    segment_id = index.begin(SegmentOpened(camera, start, path, "h264", 640, 360))
    if finished:
        index.finish(segment_id, SegmentClosed(start + timedelta(minutes=1), size, 1500, 60))
    return path


def remaining(db):
    with db.session() as session:
        return sorted(session.scalars(select(Segment.path)))


def test_age_is_per_group_and_locked_ranges_stay(db, registry, recordings_dir):
    index = SegmentIndex(db)
    old_tunnel = add_segment(index, recordings_dir, "t1", 40)
    recent_tunnel = add_segment(index, recordings_dir, "t1", 20)
    old_rented = add_segment(index, recordings_dir, "r1", 10)
    locked_rented = add_segment(index, recordings_dir, "r1", 9)
    fresh_rented = add_segment(index, recordings_dir, "r1", 1)
    start = NOW - timedelta(days=9)
    lock_range(db, "r1", start + timedelta(seconds=30), start + timedelta(seconds=40), "case 42", "investigator")

    report = Retention(db, recordings_dir, StorageConfig(min_free=0)).run_once(NOW)

    assert sorted(report.deleted) == sorted([old_tunnel, old_rented])
    assert remaining(db) == sorted([recent_tunnel, locked_rented, fresh_rented])
    assert not (recordings_dir / old_tunnel).exists()
    assert (recordings_dir / locked_rented).exists()
    assert not (recordings_dir / old_tunnel).parent.exists()  # emptied day folder removed


def test_quota_deletes_oldest_first_but_never_locked_or_unfinished(db, registry, recordings_dir):
    index = SegmentIndex(db)
    paths = [add_segment(index, recordings_dir, "t1", days, size=MB) for days in (6, 5, 4, 3, 2)]
    writing = add_segment(index, recordings_dir, "t1", 0, size=MB, finished=False)
    start = NOW - timedelta(days=6)
    lock_range(db, "t1", start, start + timedelta(minutes=1), "evidence", "investigator")

    report = Retention(db, recordings_dir, StorageConfig(quota=int(3.5 * MB), min_free=0)).run_once(NOW)

    # 5 MB finished (the segment being written has no size in the index yet), 3.5 MB
    # allowed: the oldest unlocked ones go (days 5 and 4), the locked day-6 one stays.
    assert report.deleted == [paths[1], paths[2]]
    assert remaining(db) == sorted([paths[0], paths[3], paths[4], writing])


def test_free_space_floor_deletes_until_the_floor_is_met(db, registry, recordings_dir):
    index = SegmentIndex(db)
    paths = [add_segment(index, recordings_dir, "r1", days, size=2 * MB) for days in (5, 4, 3, 2)]
    free = shutil.disk_usage(recordings_dir).free
    # Ask for 3 MB more than is free: two 2 MB segments must go, oldest first.
    report = Retention(db, recordings_dir, StorageConfig(min_free=free + 3 * MB)).run_once(NOW)
    assert report.deleted[:2] == paths[:2]
    assert report.reasons == {"free-space": len(report.deleted)}
    assert paths[-1] in remaining(db) or len(report.deleted) == 4  # other writers on this disk may need more


def test_recordings_around_recent_events_outlive_their_group_age(db, registry, recordings_dir):
    from vms.config.detection import EventsConfig
    from vms.db.events import EventRow

    index = SegmentIndex(db)
    around_event = add_segment(index, recordings_dir, "r1", 10)  # rented keeps 7 days
    plain = add_segment(index, recordings_dir, "r1", 9)
    start = NOW - timedelta(days=10)
    with db.session() as session:
        session.add(
            EventRow(
                camera_id="r1", type="stopped_vehicle", start=start + timedelta(seconds=20), detected_at=start,
                end=start + timedelta(seconds=30), clip_start=start + timedelta(seconds=10),
                clip_end=start + timedelta(seconds=40),
            )
        )
    storage = StorageConfig(min_free=0)

    kept = Retention(db, recordings_dir, storage, EventsConfig(keep_recordings_days=30)).run_once(NOW)
    assert kept.deleted == [plain]
    # Without the setting, the event does not hold its recording back.
    assert Retention(db, recordings_dir, storage, EventsConfig()).run_once(NOW).deleted == [around_event]


def test_a_dead_workers_old_segments_are_deleted_by_age_by_a_live_worker(db, registry, tmp_path):
    from vms.cluster.retention import WorkerRetention

    root = tmp_path / "recordings"
    mine, dead, alive = root / "w1", root / "w-dead", root / "w2"
    old_dead = add_segment(SegmentIndex(db, "w-dead"), dead, "r1", 10)
    fresh_dead = add_segment(SegmentIndex(db, "w-dead"), dead, "r1", 1)
    old_alive = add_segment(SegmentIndex(db, "w2"), alive, "t1", 40)
    storage = StorageConfig(min_free=0)

    unknown = WorkerRetention(db, mine, storage, "w1", live_workers=lambda: None).run_once(NOW)
    assert unknown.deleted == [], "with nobody known alive, nobody else's segments are touched"
    report = WorkerRetention(db, mine, storage, "w1", live_workers=lambda: {"w1", "w2"}).run_once(NOW)

    assert report.deleted == [old_dead]
    assert not (dead / old_dead).exists() and (dead / fresh_dead).exists()
    assert remaining(db) == sorted([fresh_dead, old_alive]), "a live worker's segments are its own to delete"
