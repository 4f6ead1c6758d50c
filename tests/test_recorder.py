"""The recorder, fed generated H.264 through a real fan-out queue (no network)."""

import logging
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import av
import pytest

from streams.fanout import PacketFanout
from streams.packets import Discontinuity, StreamEnd
from streams.recorder import Recorder, segment_path
from tests.support.media import decode_all, media_packets
from vms.recordings.index import SegmentIndex


def record(db, recordings_dir: Path, items, segment_seconds: float, worker_id: str = "local") -> SegmentIndex:
    index = SegmentIndex(db, worker_id)
    fanout = PacketFanout("cam", "main")
    queue = fanout.subscribe("recorder", max_packets=10_000)
    recorder = Recorder("cam", queue, index, recordings_dir, segment_seconds).start()
    for item in items:
        fanout.publish(item)
    deadline = time.monotonic() + 10
    while len(queue) and time.monotonic() < deadline:
        time.sleep(0.01)
    recorder.stop()
    return index


def test_segments_are_cut_at_keyframes_and_decode(db, recordings_dir):
    info, packets = media_packets(frames=250, fps=25, gop=25)  # 10 s, keyframe every second
    index = record(db, recordings_dir, [info, *packets, StreamEnd("cam", "main", 1, "test")], 3)
    segments = index.of_camera("cam")
    assert [round(s.duration_seconds, 2) for s in segments] == [3.0, 3.0, 3.0, 1.0]
    for segment in segments:
        path = recordings_dir / segment.path
        assert path.stat().st_size == segment.bytes
        assert decode_all(path) == segment.frames
        with av.open(str(path)) as container:
            first = next(container.demux(video=0))
            assert first.is_keyframe
    assert sum(s.frames for s in segments) == 250
    # Consecutive segments join without a hole: each ends where the next starts.
    for before, after in zip(segments, segments[1:]):
        assert abs((after.start - before.end).total_seconds()) < 0.001


def test_b_frames_keep_their_order(db, recordings_dir):
    info, packets = media_packets(frames=100, gop=25, bframes=2)
    assert any(p.pts != p.dts for p in packets)
    index = record(db, recordings_dir, [info, *packets, StreamEnd("cam", "main", 1, "test")], 60)
    (segment,) = index.of_camera("cam")
    assert decode_all(recordings_dir / segment.path) == 100
    assert segment.duration_seconds == pytest.approx(4.0, abs=0.01)


def test_a_gap_ends_the_segment_and_the_next_session_starts_a_new_one(db, recordings_dir):
    info1, first = media_packets(frames=50, session=1, start_wall=1_700_000_000.0)
    info2, second = media_packets(frames=50, session=2, start_wall=1_700_000_010.0)
    items = [info1, *first, StreamEnd("cam", "main", 1, "lost"), info2, *second, StreamEnd("cam", "main", 2, "x")]
    segments = record(db, recordings_dir, items, 60).of_camera("cam")
    assert len(segments) == 2
    gap = (segments[1].start - segments[0].end).total_seconds()
    assert gap == pytest.approx(8.0, abs=0.01)


def test_segment_path_layout():
    start = datetime(2026, 11, 24, 16, 5, 9, 123456, tzinfo=timezone.utc)
    assert segment_path("tunnel-01", start) == "tunnel-01/2026-11-24/20261124T160509.123Z.mp4"
    assert segment_path("tunnel-01", start, copy=2) == "tunnel-01/2026-11-24/20261124T160509.123Z-2.mp4"


def test_a_drift_report_keeps_the_segment_going_and_a_clock_step_cuts_it(db, recordings_dir):
    """Drift is slewed within a run (no cut); a step ends the run's segment at the next keyframe."""
    info, packets = media_packets(frames=100, fps=25, gop=25)  # 4 s, keyframe every second
    drift = Discontinuity("cam", "main", 1, "drift", 1.0, packets[30].wall_time)
    index = record(db, recordings_dir, [info, *packets[:30], drift, *packets[30:], StreamEnd("cam", "main", 1, "t")], 60)
    assert [s.frames for s in index.of_camera("cam")] == [100]

    info, packets = media_packets(frames=100, fps=25, gop=25, start_wall=1_700_000_100.0)
    step = Discontinuity("cam", "main", 1, "backward", 2.0, packets[30].wall_time)
    index = record(db, recordings_dir, [info, *packets[:30], step, *packets[30:], StreamEnd("cam", "main", 1, "t")], 60)
    later = [s for s in index.of_camera("cam") if s.start.timestamp() >= 1_700_000_100.0]
    assert [s.frames for s in later] == [50, 50]  # cut at the keyframe after the step (frame 50)


def test_a_lost_picture_ends_the_segment_at_its_last_frame_like_a_gap(db, recordings_dir):
    """Ingest left out a picture and its dependants (streams.access_units): a hole, not a squeeze."""
    info, packets = media_packets(frames=100, fps=25, gop=25)
    lost = Discontinuity("cam", "main", 1, "lost", 0.04, packets[30].wall_time)
    items = [info, *packets[:30], lost, *packets[50:], StreamEnd("cam", "main", 1, "t")]
    segments = record(db, recordings_dir, items, 60).of_camera("cam")
    assert [s.frames for s in segments] == [30, 50]
    assert (segments[1].start - segments[0].end).total_seconds() == pytest.approx(0.8, abs=0.001)
    for segment in segments:
        assert decode_all(recordings_dir / segment.path) == segment.frames


def test_a_second_recording_of_the_camera_at_the_same_instant_gets_its_own_files(db, recordings_dir, caplog):
    """Two workers recording one camera during a partition (duplicates over loss) can place its
    keyframes at the same millisecond: the second must write its own files, not fail to index
    (UNIQUE path) nor write over the first's."""
    info, packets = media_packets(frames=100, fps=25, gop=25)
    items = [info, *packets, StreamEnd("cam", "main", 1, "test")]
    caplog.set_level(logging.INFO, logger="streams.recorder")
    first = record(db, recordings_dir, items, 60, "worker-a")
    first_rows = first.of_camera("cam")
    before = {row.path: (recordings_dir / row.path).read_bytes() for row in first_rows}
    second = record(db, recordings_dir, items, 60, "worker-b")
    rows = second.of_camera("cam")
    theirs = [row for row in rows if row.worker_id == "worker-b"]
    assert [row.start for row in theirs] == [row.start for row in first_rows]
    assert all(row.path.endswith("Z-2.mp4") for row in theirs), [row.path for row in theirs]
    assert sum(decode_all(recordings_dir / row.path) for row in theirs) == 100
    assert {path: (recordings_dir / path).read_bytes() for path in before} == before  # the first's files untouched
    # Another worker's row: the expected overlap of every hand-over with warm standby, not a warning.
    renamed = [r for r in caplog.records if "is another recording's" in r.getMessage()]
    assert renamed and all(r.levelno == logging.INFO and "expected overlap" in r.getMessage() for r in renamed), \
        [(r.levelname, r.getMessage()) for r in renamed]


def test_a_file_without_its_row_is_not_written_over(db, recordings_dir, caplog):
    """Another worker's file whose row is still buffered (database away) holds the plain name."""
    caplog.set_level(logging.INFO, logger="streams.recorder")
    info, packets = media_packets(frames=50, fps=25, gop=25)
    start = datetime.fromtimestamp(packets[0].wall_time, timezone.utc)
    theirs = recordings_dir / segment_path("cam", start)
    theirs.parent.mkdir(parents=True)
    theirs.write_bytes(b"another worker's fragments")
    (row,) = record(db, recordings_dir, [info, *packets, StreamEnd("cam", "main", 1, "test")], 60, "worker-a").of_camera("cam")
    assert row.path == segment_path("cam", start, copy=2)
    assert theirs.read_bytes() == b"another worker's fragments"
    assert decode_all(recordings_dir / row.path) == 50
    renamed = [r for r in caplog.records if "is another recording's" in r.getMessage()]
    assert [r.levelno for r in renamed] == [logging.WARNING], "a file with no row is not an expected overlap"



def test_a_segment_that_would_end_in_the_future_is_cut_at_a_later_keyframe(db, recordings_dir, caplog):
    """A line found after its arrivals (a late anchor, brought back by the time model within
    seconds) must not leave rows open: the index refuses a row ending in the future, so the
    segment's cut waits for a keyframe where it would not."""
    info, packets = media_packets(frames=120, fps=25, gop=10, start_wall=0.0)
    # Frames 0-12 arrive in real time, 13-45 at once (a backlog drains: the line is now 1.28 s
    # after the arrivals; a loaded box delaying this feed by up to 0.7 s still leaves it more
    # than the index tolerates), then one every 60 ms though spaced 40 ms: the lead shrinks by
    # 20 ms a frame, as the line is slewed back.
    arrivals = [0.04 * i for i in range(13)] + [0.52] * 33 + [0.52 + 0.06 * (i - 45) for i in range(46, 120)]
    index = SegmentIndex(db, "local")
    fanout = PacketFanout("cam", "main")
    queue = fanout.subscribe("recorder", max_packets=10_000)
    recorder = Recorder("cam", queue, index, recordings_dir, 1.0).start()
    fanout.publish(info)
    began, wall = time.monotonic(), time.time()
    with caplog.at_level(logging.INFO, logger="streams.recorder"):
        for packet, arrival in zip(packets, arrivals):
            time.sleep(max(0.0, began + arrival - time.monotonic()))
            fanout.publish(replace(packet, wall_time=wall + packet.wall_time))
        fanout.publish(StreamEnd("cam", "main", 1, "test"))
        deadline = time.monotonic() + 10
        while len(queue) and time.monotonic() < deadline:
            time.sleep(0.01)
        recorder.stop()
    segments = index.of_camera("cam")
    assert all(s.end is not None for s in segments), "a row was left open"
    assert sum(s.frames for s in segments) == 120
    assert len(segments) >= 2
    assert "segment cut postponed" in caplog.text
    for before, after in zip(segments, segments[1:]):
        assert abs((after.start - before.end).total_seconds()) < 0.001


def test_a_lease_gone_ends_recording_here_without_a_storage_error(db, recordings_dir, caplog):
    """The end of a hand-over's overlap (or a lapsed lease another worker took): the index refuses
    the next segment. That is the new holder's camera now, not a full disk: no storage error and
    no storage alarm, one INFO line, and the segments already recorded stay closed and whole."""
    from vms.recordings.buffered_index import BufferedSegmentIndex

    leased = {"cam": True}
    index = BufferedSegmentIndex(db, "worker-a", may_record=lambda camera_id: leased[camera_id]).start()
    storage_errors: list[str] = []
    fanout = PacketFanout("cam", "main")
    queue = fanout.subscribe("recorder", max_packets=10_000)
    recorder = Recorder("cam", queue, index, recordings_dir, 2, on_storage_error=storage_errors.append).start()
    caplog.set_level(logging.INFO, logger="streams.recorder")
    info, packets = media_packets(frames=250, fps=25, gop=25)
    fanout.publish(info)
    for number, packet in enumerate(packets):
        if number == 100:  # 4 s in, once the recorder has written them all: the lease moves on
            def written() -> bool:
                segment = recorder._segment
                return recorder.segments_written == 1 and segment is not None and segment.writer.frames == 50

            deadline = time.monotonic() + 10
            while not written() and time.monotonic() < deadline:
                time.sleep(0.01)
            leased["cam"] = False
        fanout.publish(packet)
    fanout.publish(StreamEnd("cam", "main", 1, "test"))
    deadline = time.monotonic() + 10
    while len(queue) and time.monotonic() < deadline:
        time.sleep(0.01)
    recorder.stop()
    index.stop()
    rows = index.of_camera("cam")
    assert rows and all(row.end is not None for row in rows)
    assert [row.frames for row in rows] == [50, 50]  # up to the keyframe where the next segment was refused
    assert sum(decode_all(recordings_dir / row.path) for row in rows) == sum(row.frames for row in rows)
    assert recorder.storage_errors == 0 and recorder.last_error is None and storage_errors == []
    messages = [r.getMessage() for r in caplog.records if "not recording here any more" in r.getMessage()]
    assert len(messages) == 1 and not [r for r in caplog.records if r.levelno >= logging.ERROR], \
        [(r.levelname, r.getMessage()) for r in caplog.records]
