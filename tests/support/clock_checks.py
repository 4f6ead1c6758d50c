"""Assertions on recorded time: index invariants, frame spacing in the files, gaps between rows."""

from __future__ import annotations

import time
from pathlib import Path

import av

from vms.recordings.verify import verify


def packets_received(worker, camera_id: str) -> int:
    """Packets ingest has received of one camera (all its streams) so far."""
    return sum(s.packets for s in worker.statuses() if s.camera_id == camera_id)


def wait_packets(worker, camera_id: str, more: int, timeout: float = 60) -> None:
    """Wait until ingest has received ``more`` packets beyond what it has now."""
    target = packets_received(worker, camera_id) + more
    deadline = time.monotonic() + timeout
    while packets_received(worker, camera_id) < target:
        assert time.monotonic() < deadline, f"{camera_id}: fewer than {more} packets within {timeout} s"
        time.sleep(0.05)


def frame_times(path: Path) -> list[float]:
    """Presentation times (s) of every decoded frame of a file, in the order the decoder gives them."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.options = {"err_detect": "explode"}
        return [float(frame.pts * stream.time_base) for frame in container.decode(stream)]


def check_recording(worker, camera_id: str, fps: float, stopped_at: float, spacing_tolerance: float = 0.25,
                    ragged_ends: bool = False):
    """Assert every invariant of the index and the files of one camera; return the rows and gaps.

    Frames in every file come out in presentation order with the camera's spacing (within
    ``spacing_tolerance`` of one frame: slewing a drifting clock changes it by up to 5 %); no
    row ends after ``stopped_at`` (plus the index's tolerance): a moment after the worker stopped,
    since it records until then. ``ragged_ends``: frames were
    lost on purpose or by a loaded camera (the simulator drops a late frame under load), so a
    row may miss frames: steps must then be whole multiples of a frame.
    """
    report = verify(worker.db, lambda row: worker.recordings_dir / row.path, camera_id, decode=True)
    assert not report.violations, "\n".join(map(str, report.violations))
    rows = worker.index.of_camera(camera_id)
    assert rows and all(row.end is not None for row in rows)
    frame = 1 / fps
    for row in rows:
        times = frame_times(worker.recordings_dir / row.path)
        steps = [b - a for a, b in zip(times, times[1:])]
        if row is rows[-1] or ragged_ends:
            steps = steps[:-3]  # recording stopped mid-GOP: B-frames after the last P never came
        assert all(step > 0 for step in steps), f"{row.path}: frames out of presentation order"
        if ragged_ends:  # a frame the camera never sent leaves a whole-frame hole, not a squeeze
            odd = [round(step, 4) for step in steps
                   if round(step / frame) < 1 or abs(step / frame - round(step / frame)) > spacing_tolerance]
        else:
            odd = [round(step, 4) for step in steps if abs(step - frame) > frame * spacing_tolerance]
        assert not odd, f"{row.path}: frame spacing {odd[:10]} instead of {frame:.3f} s"
    assert rows[-1].end.timestamp() <= stopped_at + 0.5, f"last row ends {rows[-1].end.timestamp() - stopped_at:.3f} s after the stop"
    gaps = [(a.end.timestamp(), (b.start - a.end).total_seconds()) for a, b in zip(rows, rows[1:])]
    return rows, gaps
