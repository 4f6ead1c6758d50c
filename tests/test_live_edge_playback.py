"""The newest minute: a segment still being written can be played back up to its whole fragments."""

from __future__ import annotations

import io
import time
from datetime import datetime, timedelta, timezone

import av
import pytest

from streams.fanout import PacketFanout
from streams.recorder import Recorder
from tests.support.media import media_packets
from vms.recordings.index import SegmentIndex
from vms.recordings.locate import SegmentFiles
from vms.recordings.playback import plan_range, stream_mp4, timeline

START = float(int(time.time()) - 600)  # the index refuses rows in the future


def test_open_segment_plays_up_to_its_last_whole_fragment(db, recordings_dir):
    index = SegmentIndex(db)
    fanout = PacketFanout("cam", "main")
    queue = fanout.subscribe("recorder", max_packets=10_000, wake_per_packet=False)
    recorder = Recorder("cam", queue, index, recordings_dir, segment_seconds=60).start()
    info, packets = media_packets(frames=300, fps=25, gop=25, start_wall=START)  # 12 s, keyframe every second
    try:
        for item in (info, *packets):  # no StreamEnd: the camera is still streaming
            fanout.publish(item)
        start = datetime.fromtimestamp(START, timezone.utc)
        deadline = time.monotonic() + 10

        def reported() -> datetime | None:
            rows = index.of_camera("cam")
            return rows[0].written_until if rows else None

        # An empty queue is not enough: the recorder may still be writing its last batch.
        while (len(queue) or (reported() or start) < start + timedelta(seconds=10)) and time.monotonic() < deadline:
            time.sleep(0.05)
        (row,) = index.of_camera("cam")
        assert row.end is None, "the segment is still open"
        # Progress is reported every 5 s of media, at keyframes: at 5 s and 10 s.
        assert row.written_until == start + timedelta(seconds=10)

        day = timeline(db, "cam", start - timedelta(minutes=1), start + timedelta(minutes=1))
        assert day["recordings"] == [[start.isoformat(), (start + timedelta(seconds=10)).isoformat()]]

        plan = plan_range(db, SegmentFiles(recordings_dir), "cam", start + timedelta(seconds=2.5), start + timedelta(seconds=9))
        assert plan.first_keyframe == start + timedelta(seconds=2)
        data = b"".join(stream_mp4(plan, SegmentFiles(recordings_dir)))
        with av.open(io.BytesIO(data)) as container:
            frames = sum(1 for _ in container.decode(video=0))
        assert frames == pytest.approx(7 * 25, abs=1)  # 2 s .. 9 s
    finally:
        recorder.stop()
    (closed,) = index.of_camera("cam")
    assert closed.end == datetime.fromtimestamp(START, timezone.utc) + timedelta(seconds=12)
