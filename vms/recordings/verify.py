"""Check the segment files against the index: every invariant of vms.recordings.invariants.

Used by ``vms recordings verify``; reads each file's packets (no decoding unless asked), so a
day of one camera (1,440 one-minute files) takes seconds.

A row still open is healthy while its writer appends to its file (a fragment every keyframe, a
second or two). One whose file has not grown for longer than two segment lengths plus a lease
period has no writer any more: its worker died and nobody repaired it (the worker repairs its own
at start; a live worker repairs a dead one's within ``max(10, 2 x lease)`` s plus one 10 s
maintenance tick). Playback and export stop at its last progress, so it is reported as the
violation ``abandoned`` (the command exits 1) rather than counted as being written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import av
from sqlalchemy import select

from vms.db import CameraRow, Database, Segment
from vms.recordings.invariants import Violation, time_problems
from vms.recordings.repair import measure


@dataclass
class VerifyReport:
    segments: int = 0
    open_segments: int = 0  # open and growing: being written
    abandoned: int = 0  # open, file quiet past the bound (also in ``violations``)
    violations: list[Violation] = field(default_factory=list)
    # Largest |indexed - file| duration difference seen, seconds (a figure for the README).
    worst_duration_error: float = 0.0


def decoded_frames(path: Path) -> int:
    """Frames a decoder gets out of ``path``; raises av.FFmpegError on corrupt data."""
    with av.open(str(path)) as container:
        container.streams.video[0].codec_context.options = {"err_detect": "explode"}
        return sum(1 for _ in container.decode(video=0))


DEFAULT_SEGMENT_SECONDS = 60.0  # a row of a camera no longer in the registry (the config default)


def open_bound(segment_seconds: float, lease_seconds: float) -> float:
    """Seconds an open row's file may stay unchanged before it counts as abandoned."""
    return 2 * segment_seconds + lease_seconds


def verify(db: Database, file_of: Callable[[Segment], Path], camera_id: str | None = None,
           since: datetime | None = None, decode: bool = False, now: datetime | None = None,
           lease_seconds: float = 6.0) -> VerifyReport:
    """Every violation of the index invariants among the rows of ``camera_id`` (all cameras
    when None) starting at or after ``since``; ``decode`` also decodes every frame. An open row
    whose file has been unchanged for more than ``open_bound(camera's segment_seconds,
    lease_seconds)`` s is the violation ``abandoned``."""
    now = now or datetime.now(timezone.utc)
    report = VerifyReport()
    query = select(Segment).order_by(Segment.camera_id, Segment.start)
    if camera_id is not None:
        query = query.where(Segment.camera_id == camera_id)
    with db.session() as session:
        rows = list(session.scalars(query))
        segment_seconds = {c.id: c.segment_seconds for c in session.scalars(select(CameraRow))}
        session.expunge_all()
    # Per camera and worker: two workers may record one camera at once (hand-over, partition).
    previous: dict[tuple[str, str], Segment] = {}
    for row in rows:
        before = previous.get((row.camera_id, row.worker_id))
        previous[(row.camera_id, row.worker_id)] = row
        if since is not None and row.start < since:
            continue
        report.segments += 1
        if row.end is None:
            bound = open_bound(segment_seconds.get(row.camera_id) or DEFAULT_SEGMENT_SECONDS, lease_seconds)
            abandoned = _abandoned(row, file_of(row), now, bound)
            if abandoned is None:
                report.open_segments += 1
            else:
                report.abandoned += 1
                report.violations.append(Violation(row.camera_id, row.path, "abandoned", abandoned))
            continue
        prior_end = before.end if before is not None else None
        for rule, detail in time_problems(row.start, row.end, prior_end, None, now):
            report.violations.append(Violation(row.camera_id, row.path, rule, detail))
        report.violations.extend(_file_problems(row, file_of(row), decode, report))
    return report


def _abandoned(row: Segment, path: Path, now: datetime, bound: float) -> str | None:
    """Why the open ``row`` has no writer any more, or None while its file still grows."""
    try:
        changed = path.stat().st_mtime
        what = "its file unchanged"
    except OSError:
        changed = (row.written_until or row.start).timestamp()
        what = "no file, no progress"
    quiet = now.timestamp() - changed
    if quiet <= bound:
        return None
    reach = row.written_until.isoformat() if row.written_until else "its start"
    return (f"left open, {what} for {quiet:.0f} s (bound {bound:.0f} s: 2 x segment length + lease); "
            f"its writer is gone and nobody repaired it: playback stops at {reach} "
            f"(the worker repairs its own rows at start, a live worker those of a dead one)")


def _file_problems(row: Segment, path: Path, decode: bool, report: VerifyReport) -> list[Violation]:
    def violation(rule: str, detail: str) -> Violation:
        return Violation(row.camera_id, row.path, rule, detail)

    if not path.exists():
        return [violation("missing", f"file {path} does not exist")]
    problems = []
    if path.stat().st_size != row.bytes:
        problems.append(violation("size", f"file has {path.stat().st_size} bytes, index says {row.bytes}"))
    try:
        span = measure(path)
        frames = decoded_frames(path) if decode else span.frames
    except (OSError, av.FFmpegError) as exc:
        return problems + [violation("unreadable", str(exc))]
    indexed = row.duration_seconds
    assert indexed is not None  # only closed rows are checked against their files
    frame = span.seconds / span.frames if span.frames else 0.0
    error = abs(indexed - span.seconds)
    report.worst_duration_error = max(report.worst_duration_error, error)
    if error > frame + 1e-3:
        problems.append(violation("duration", f"index says {indexed:.3f} s, file holds {span.seconds:.3f} s"))
    if frames != row.frames:
        problems.append(violation("frames", f"index says {row.frames} frames, file holds {frames}"))
    return problems
