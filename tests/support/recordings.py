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


def closed_segments(db: Database, camera_id: str | None = None) -> list:
    """Closed index rows (of one camera, or all), oldest first."""
    from sqlalchemy import select

    from vms.db import Segment

    query = select(Segment).where(Segment.end.is_not(None)).order_by(Segment.start)
    if camera_id is not None:
        query = query.where(Segment.camera_id == camera_id)
    with db.session() as session:
        return list(session.scalars(query))


def worst_gap(rows, since: float, until: float) -> float:
    """The largest stretch (s) of [since, until] (epoch seconds) that no closed row covers."""
    edge, worst = since, 0.0
    for row in sorted((r for r in rows if r.end is not None), key=lambda r: r.start):
        if row.end.timestamp() <= since:
            continue
        worst = max(worst, row.start.timestamp() - edge)
        edge = max(edge, row.end.timestamp())
    return max(worst, until - edge)
