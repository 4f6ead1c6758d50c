"""Events stored, published and kept: recorder, queries, retention and the recordings lock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from vms.bus.memory import MemoryBus
from vms.cameras.registry import CameraRegistry
from vms.config import CameraConfig, GroupConfig
from vms.config.detection import EventsConfig
from vms.db import Segment
from vms.events import EVENTS_TOPIC, EventQuery, EventRecorder, EventStore
from vms.events.retention import EventRetention, event_locked_segments

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=timezone.utc)


def setup(db, tmp_path, **config):
    registry = CameraRegistry(db)
    registry.sync_from_config(
        [GroupConfig(id="tunnel", name="Tunnel"), GroupConfig(id="rented", name="Rented")],
        [CameraConfig(id="t-01", name="T1", group="tunnel", main_url="rtsp://10.0.0.1/a"),
         CameraConfig(id="r-01", name="R1", group="rented", main_url="rtsp://10.0.0.2/a")],
    )
    bus = MemoryBus()
    published: list[dict] = []
    bus.add_listener(EVENTS_TOPIC, lambda topic, message: published.append(message))
    recorder = EventRecorder(db, bus, tmp_path, EventsConfig(**config), worker_id="w1")
    return recorder, published


def test_an_event_is_stored_with_snapshot_and_clip_and_published(db, tmp_path):
    recorder, published = setup(db, tmp_path, pre_event_seconds=5, post_event_seconds=7)
    start = T0.timestamp()
    event_id = recorder.open("t-01", "stopped_vehicle", start, detected_at=start + 30, zone="tube", score=0.9,
                             snapshot=b"\xff\xd8jpeg", details={"box": [0.1, 0.2, 0.3, 0.4]})
    row = EventStore(db).get(event_id)
    assert row.group_id == "tunnel" and row.zone == "tube" and row.end is None
    assert row.snapshot_path == f"events/t-01/2026-05-01/{event_id}.jpg"
    assert (tmp_path / row.snapshot_path).read_bytes() == b"\xff\xd8jpeg"
    assert row.clip_start == T0 - timedelta(seconds=5) and row.clip_end is None
    assert published[-1]["phase"] == "start" and published[-1]["id"] == event_id
    assert published[-1]["detected_at"] == (T0 + timedelta(seconds=30)).isoformat()
    recorder.close(event_id, start + 60, score=0.95)
    row = EventStore(db).get(event_id)
    assert row.end == T0 + timedelta(seconds=60) and row.clip_end == T0 + timedelta(seconds=67)
    assert row.score == 0.95
    assert published[-1]["phase"] == "end" and published[-1]["clip"]["end"] == (T0 + timedelta(seconds=67)).isoformat()


def test_queries_filter_and_acknowledge(db, tmp_path):
    recorder, published = setup(db, tmp_path)
    t = T0.timestamp()
    a = recorder.open("t-01", "wrong_way", t)
    recorder.close(a, t + 10)
    b = recorder.open("r-01", "tamper_covered", t + 100)
    c = recorder.instant("t-01", "camera_online", t + 200)
    store = EventStore(db)
    assert [r.id for r in store.query(EventQuery())] == [c, b, a]
    assert [r.id for r in store.query(EventQuery(groups=["tunnel"]))] == [c, a]
    assert [r.id for r in store.query(EventQuery(types=["tamper_covered", "wrong_way"]))] == [b, a]
    assert [r.id for r in store.query(EventQuery(since=T0 + timedelta(seconds=50)))] == [c, b]  # b is still going on
    assert [r.id for r in store.query(EventQuery(until=T0 + timedelta(seconds=150)))] == [b, a]
    recorder.acknowledge(a, "operator-1")
    assert published[-1]["phase"] == "ack" and published[-1]["acknowledged_by"] == "operator-1"
    recorder.acknowledge(a, "operator-2")  # the first acknowledgement stays
    assert store.get(a).acknowledged_by == "operator-1"
    assert [r.id for r in store.query(EventQuery(unacknowledged=True))] == [c, b]


def test_orphans_of_a_crashed_worker_are_ended(db, tmp_path):
    recorder, _ = setup(db, tmp_path)
    left_open = recorder.open("t-01", "congestion", T0.timestamp())
    assert recorder.close_orphans() == 1
    row = EventStore(db).get(left_open)
    assert row.end is not None and row.details["ended_by"] == "restart"


def test_event_retention_deletes_old_events_and_their_snapshots(db, tmp_path):
    recorder, _ = setup(db, tmp_path, retention_days=30)
    old = recorder.open("t-01", "motion", T0.timestamp(), snapshot=b"old")
    recorder.close(old, T0.timestamp() + 5)
    new = recorder.open("t-01", "motion", (T0 + timedelta(days=29)).timestamp(), snapshot=b"new")
    recorder.close(new, (T0 + timedelta(days=29)).timestamp() + 5)
    ongoing = recorder.open("t-01", "congestion", T0.timestamp())  # still going on: kept
    old_path = tmp_path / EventStore(db).get(old).snapshot_path
    deleted = EventRetention(db, tmp_path, EventsConfig(retention_days=30)).run_once(T0 + timedelta(days=31))
    assert deleted == 1
    assert not old_path.exists() and not old_path.parent.exists()  # the emptied day folder goes too
    assert {r.id for r in EventStore(db).query(EventQuery())} == {new, ongoing}


def test_segments_covering_an_event_clip_are_locked_for_keep_recordings_days(db, tmp_path):
    recorder, _ = setup(db, tmp_path, pre_event_seconds=10, post_event_seconds=10, keep_recordings_days=90)
    event = recorder.open("t-01", "stopped_vehicle", (T0 + timedelta(minutes=5)).timestamp())
    recorder.close(event, (T0 + timedelta(minutes=6)).timestamp())
    with db.session() as session:
        for minute in range(10):
            start = T0 + timedelta(minutes=minute)
            for camera in ("t-01", "r-01"):
                session.add(Segment(camera_id=camera, start=start, end=start + timedelta(minutes=1),
                                    path=f"{camera}/{minute}.mp4", codec="h264"))

    def locked(config: EventsConfig, now: datetime) -> list[str]:
        with db.session() as session:
            return sorted(session.scalars(select(Segment.path).where(event_locked_segments(config, now))))

    keep = EventsConfig(keep_recordings_days=90)
    # Clip 08:04:50 .. 08:06:10 touches the segments starting at minutes 4, 5 and 6 of its camera only.
    assert locked(keep, T0 + timedelta(days=10)) == ["t-01/4.mp4", "t-01/5.mp4", "t-01/6.mp4"]
    assert locked(keep, T0 + timedelta(days=91)) == []  # the lock has run out
    assert locked(EventsConfig(), T0) == []  # no event locks configured
    # As recordings retention would use it: deletable by age unless locked.
    with db.session() as session:
        free = session.scalars(select(Segment.path).where(~event_locked_segments(keep, T0 + timedelta(days=10))))
        assert len(list(free)) == 17
        assert len(list(session.scalars(select(Segment.path).where(~event_locked_segments(EventsConfig(), T0))))) == 20
