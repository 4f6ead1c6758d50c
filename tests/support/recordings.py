"""Real recorded segments of generated H.264, written by the real recorder."""

from __future__ import annotations

import time
from pathlib import Path

from streams.fanout import PacketFanout
from streams.packets import StreamEnd
from streams.recorder import Recorder
from tests.support.media import media_packets
from vms.db import Database
from vms.recordings.index import SegmentIndex


def record(
    db: Database, recordings_dir: Path, camera_id: str, start_wall: float, seconds: int = 10,
    segment_seconds: float = 3, session: int = 1, fps: int = 25, gop: int = 25, bframes: int = 0,
) -> None:
    """Record ``seconds`` of video starting at wall time ``start_wall`` (keyframe every ``gop`` frames)."""
    fanout = PacketFanout(camera_id, "main")
    queue = fanout.subscribe("recorder", max_packets=100_000)
    recorder = Recorder(camera_id, queue, SegmentIndex(db), recordings_dir, segment_seconds).start()
    info, packets = media_packets(camera_id, frames=fps * seconds, fps=fps, gop=gop, start_wall=start_wall,
                                  session=session, bframes=bframes)
    for item in (info, *packets, StreamEnd(camera_id, "main", session, "test")):
        fanout.publish(item)
    deadline = time.monotonic() + 20
    while len(queue) and time.monotonic() < deadline:
        time.sleep(0.01)
    recorder.stop()
