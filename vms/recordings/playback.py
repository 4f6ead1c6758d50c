"""Play back any time range: remux the recorded segments that cover it into one MP4, never decoding.

The output starts at the keyframe at or before the requested start, so it plays on its own.
Its media time is the wall clock shifted: media time ``t`` shows what happened at
``RangePlan.media_start + t``. A gap in the recordings stays a gap in time (the last picture
holds), so times in the file are always true times. The player seeks to ``RangePlan.offset``
to begin exactly at the requested start.

Two workers may record one camera at once for a while (a hand-over, a Redis partition: duplicates
over loss). Playback uses one recording at any moment: a segment wholly inside what is already
covered is skipped, the same worker's copy is followed as long as it continues
(``without_duplicates``), and a switch to another worker's overlapping copy is made at that
copy's keyframe inside the overlap (``_switch_point``); a row that overlaps what is covered
otherwise joins at its first keyframe after the covered part.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterator

import av

from vms.db import Database, Segment
from vms.recordings.fmp4 import FRAGMENTED_MP4, PLAIN_MP4
from vms.recordings.hvc1 import retag_hvc1, retag_hvc1_in
from vms.recordings.index import SegmentIndex
from vms.recordings.locate import SegmentFiles, UnsafePath, segment_file  # noqa: F401  (UnsafePath, segment_file: re-exported)

log = logging.getLogger(__name__)

OUT_TIME_BASE = Fraction(1, 90000)
# Recordings closer than this are one continuous run on the timeline.
JOIN_SECONDS = 0.5


class NothingRecorded(LookupError):
    """No recording of the camera covers any of the requested range."""


def _reach(segment: Segment) -> datetime:
    """The end of a row from ``SegmentIndex.covering`` (which reports an open segment's reach there)."""
    if segment.end is None:
        raise ValueError(f"segment {segment.path} has no end: only rows from SegmentIndex.covering can be played")
    return segment.end


def _ticks(delta: timedelta) -> int:
    micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    return round(micros * 9 / 100)  # 90 kHz


@dataclass
class RangePlan:
    camera_id: str
    start: datetime  # as requested
    end: datetime
    segments: list[Segment]
    first_keyframe: datetime  # wall time of the first picture copied
    lead: timedelta  # its presentation delay (B-frames); media time of the first picture
    first_keyframe_pts: int | None  # in the first segment's time base; None: the segment's first
    truncated_at: datetime | None = None  # the stream's format changed here; the rest is left out
    # Rows wholly inside what earlier rows already cover (another worker's copy): left out, reported.
    duplicates: list[Segment] = field(default_factory=list)

    @property
    def media_start(self) -> datetime:
        """Wall time at media time zero of the output."""
        return self.first_keyframe - self.lead

    @property
    def offset(self) -> float:
        """Seconds into the output where the requested start is."""
        return max(0.0, (self.start - self.media_start).total_seconds())

    @property
    def gaps(self) -> list[tuple[datetime, datetime]]:
        result: list[tuple[datetime, datetime]] = []
        for before, after in zip(self.segments, self.segments[1:]):
            if (after.start - _reach(before)).total_seconds() > JOIN_SECONDS:
                result.append((_reach(before), after.start))
        return result


def plan_range(db: Database, files: SegmentFiles, camera_id: str, start: datetime, end: datetime) -> RangePlan:
    """Find the segments covering [start, end) and the keyframe to begin at (``files`` finds each
    segment's file, whichever worker wrote it)."""
    if end <= start:
        raise ValueError("the range must end after it starts")
    covering = SegmentIndex(db).covering(camera_id, start, end)
    segments = without_duplicates(covering)
    duplicates = [segment for segment in covering if segment not in segments]
    if not segments:
        raise NothingRecorded(f"camera '{camera_id}' has no recording between {start.isoformat()} and {end.isoformat()}")
    first = segments[0]
    kept, truncated = [first], None
    for segment in segments[1:]:
        if (segment.codec, segment.width, segment.height) != (first.codec, first.width, first.height):
            truncated = segment.start
            break
        kept.append(segment)
    keyframe_wall, keyframe_pts, lead = _keyframe_before(files.path(first), first.start, start)
    return RangePlan(camera_id, start, end, kept, keyframe_wall, lead, keyframe_pts, truncated, duplicates)


def without_duplicates(segments: list[Segment]) -> list[Segment]:
    """The segments to play, in playing order: one recording at any moment, as few switches
    between workers' copies as the rows allow; rows wholly inside what is covered are left out.

    ``segments`` are sorted by start. From the edge of what is covered, the next row is, among
    those that continue it (start within ``JOIN_SECONDS`` of the edge, reach beyond it): the
    same worker's next row if there is one, else, of another worker's rows, one under the edge
    reaching farthest (the switch to it is made at its keyframe inside the overlap,
    ``_switch_point``), else the one reaching farthest; with none, the next row to start (a
    gap). Taking rows by start alone alternated between two overlapping copies at every row
    and lost pictures at each switch (a new user's trial: 0.1-1 s per switch, with 1 s GOPs).
    """
    pool = [segment for segment in segments if segment.end is not None]  # covering() sets an open row's reach
    kept: list[Segment] = []
    edge: datetime | None = None
    worker: str | None = None
    while pool:
        if edge is not None:
            limit = edge + timedelta(seconds=JOIN_SECONDS)
            pool = [segment for segment in pool if _end(segment) > edge]
            reaching = [segment for segment in pool if _end(segment) > limit]
            joinable = [segment for segment in reaching if segment.start <= limit]
            same = [segment for segment in joinable if segment.worker_id == worker]
            # Another copy's row under the edge holds a keyframe inside the overlap to switch
            # at (``_switch_point``), even if it reaches only a little beyond the edge.
            under = [segment for segment in pool if segment.start <= edge and segment.worker_id != worker]
            if same:
                chosen = min(same, key=lambda segment: segment.start)
            elif under:
                chosen = max(under, key=_end)
            elif joinable:
                chosen = max(joinable, key=_end)
            elif reaching:
                chosen = reaching[0]
            else:
                break
        else:
            chosen = pool[0]
        pool.remove(chosen)
        kept.append(chosen)
        edge = _end(chosen) if edge is None else max(edge, _end(chosen))
        worker = chosen.worker_id
    return kept


def _switch_point(plan: RangePlan, files: SegmentFiles, number: int) -> int | None:
    """Where (output ticks) to leave segment ``number`` for the next one, another worker's copy
    overlapping its end: that copy's last keyframe at or before this segment's end, so the
    switch loses no picture. None: no such switch (the same worker, no overlap, or no keyframe
    of the next copy inside the overlap after what is already copied).

    Each worker places its copy by its own clock, and the old holder of a hand-over stops
    mid-GOP: joining the next copy at its first keyframe after the old copy's end lost
    0.04-0.84 s per hand-over with 1 s GOPs (a new user's trial).
    """
    if number + 1 >= len(plan.segments):
        return None
    here, after = plan.segments[number], plan.segments[number + 1]
    if after.worker_id == here.worker_id or after.start >= _reach(here):
        return None
    path = files.path(after)
    if not path.is_file():
        return None
    try:
        keyframe, _, _ = _keyframe_before(path, after.start, _reach(here))
    except (NothingRecorded, ValueError, av.error.FFmpegError):
        return None
    if keyframe > _reach(here) or keyframe <= max(here.start, plan.first_keyframe):
        return None
    return _ticks(keyframe - plan.media_start)


def _end(segment: Segment) -> datetime:
    assert segment.end is not None
    return segment.end


def _keyframe_before(path: Path, segment_start: datetime, start: datetime) -> tuple[datetime, int | None, timedelta]:
    """The last keyframe at or before ``start`` in a segment (its first when ``start`` precedes it)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        tb = stream.time_base
        if tb is None:
            raise ValueError(f"{path}: video stream has no time base, its keyframes cannot be placed")
        first_pts = None
        chosen: tuple[datetime, int | None, timedelta] | None = None
        for packet in _readable_packets(container, stream):
            if packet.pts is None or packet.dts is None:
                continue
            if first_pts is None:
                first_pts = packet.pts
            if not packet.is_keyframe:
                continue
            wall = segment_start + timedelta(seconds=float((packet.pts - first_pts) * tb))
            if chosen is not None and wall > start:
                break
            lead = timedelta(seconds=float((packet.pts - packet.dts) * tb))
            chosen = (wall, packet.pts if chosen is not None else None, lead)
        if chosen is None:
            raise NothingRecorded(f"segment {path.name} holds no picture")
        return chosen


def _readable_packets(container: av.container.InputContainer, stream: av.VideoStream) -> Iterator[av.Packet[av.VideoStream]]:
    """The stream's packets, ending quietly where the file does.

    A segment still being written ends in a fragment the recorder has not finished; the
    playable part (``written_until``) stops before it, so reading simply ends there.
    """
    try:
        yield from container.demux(stream)
    except av.error.FFmpegError as exc:
        log.debug("reading %s stopped: %s", container.name, exc)


@dataclass
class RemuxResult:
    """What one remux actually wrote: frame times are wall-clock UTC of each picture's presentation."""

    first_frame: datetime | None = None
    last_frame: datetime | None = None
    frames: int = 0
    keyframes: int = 0
    frame_interval: float | None = None  # seconds, the median spacing of the copied frames
    segments: list[dict[str, Any]] = field(default_factory=list)
    # Holes in the copied pictures longer than JOIN_SECONDS, inside [first keyframe, requested end)
    gaps: list[tuple[datetime, datetime]] = field(default_factory=list)
    # Where the recorded time was not continuous: dicts with at, kind, seconds, what was done
    discontinuities: list[dict[str, Any]] = field(default_factory=list)


class _Sink:
    """A write-only file for the muxer: what it writes is handed out in chunks (not seekable)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        chunk = bytes(data)
        self.parts.append(chunk)
        self.size += len(chunk)
        return len(chunk)

    def take(self) -> bytes:
        data, self.parts, self.size = b"".join(self.parts), [], 0
        return data


def _scaled(value: int, num: int, den: int) -> int:
    """``round(value * num / den)`` exactly (ties to even, as ``round`` of a Fraction)."""
    quotient, remainder = divmod(value * num, den)
    twice = 2 * remainder
    if twice > den or (twice == den and quotient % 2):
        quotient += 1
    return quotient


class _Cut:
    """The rules every copied picture obeys, for playback and export alike.

    * a picture is shown at ``segment.start + (pts - first pts)``: the index places the run;
    * nothing at or after the requested end: copying stops at the first packet (in decode
      order) presented at or after it, so no B-frame is left without its reference;
    * no picture twice and time never going back: a packet not later than what was already
      copied (overlapping index rows, a media clock that stepped back) is skipped, and copying
      resumes at the next keyframe after it, so what follows decodes;
    * each such event is a discontinuity, each hole longer than ``JOIN_SECONDS`` a gap.
    """

    def __init__(self, plan: RangePlan, result: RemuxResult) -> None:
        self.plan = plan
        self.result = result
        self.end = _ticks(plan.end - plan.media_start)
        self.last_dts: int | None = None
        self.last_pts: int | None = None  # latest presentation time copied
        self.steps: list[int] = []
        self.resync = False

    def wall(self, ticks: int) -> datetime:
        return self.plan.media_start + timedelta(seconds=float(ticks * OUT_TIME_BASE))

    def note(self, kind: str, ticks: int, seconds: float, action: str) -> None:
        self.result.discontinuities.append(
            {"at": self.wall(ticks).isoformat(), "kind": kind, "seconds": round(seconds, 3), "action": action}
        )

    def enter_segment(self, base: int) -> None:
        if self.last_pts is not None and base <= self.last_pts:
            overlap = float((self.last_pts - base) * OUT_TIME_BASE)
            self.note("overlap", base, overlap, "index rows overlap: pictures already copied are skipped")
            self.resync = True

    def admit(self, pts: int, dts: int, keyframe: bool, same_segment: bool) -> bool | None:
        """True: copy the packet; False: skip it; None: the requested end is reached."""
        if pts >= self.end:
            return None
        if self.last_dts is not None and dts <= self.last_dts and not self.resync:
            self.note("clock-backwards", dts, float((self.last_dts - dts) * OUT_TIME_BASE),
                      "media clock stepped back: pictures up to the next keyframe skipped")
            self.resync = True
        if self.resync:
            if not keyframe or (self.last_dts is not None and dts <= self.last_dts) or (
                self.last_pts is not None and pts <= self.last_pts
            ):
                return False
            self.resync = False
        if self.last_dts is not None:
            step = dts - self.last_dts
            if step * OUT_TIME_BASE > JOIN_SECONDS:
                hole_from = self.last_pts if self.last_pts is not None else self.last_dts
                self.result.gaps.append((self.wall(hole_from), self.wall(pts)))
                if same_segment:
                    self.note("clock-jump", dts, float(step * OUT_TIME_BASE), "media clock jumped forward: kept as a gap")
            else:
                self.steps.append(step)
        self.last_dts = dts
        self.last_pts = pts if self.last_pts is None else max(self.last_pts, pts)
        return True

    def finish(self) -> None:
        result, plan = self.result, self.plan
        if self.steps:
            result.frame_interval = float(sorted(self.steps)[len(self.steps) // 2] * OUT_TIME_BASE)
        first, last = result.first_frame, result.last_frame
        if first is None or last is None:
            return
        if (first - plan.start).total_seconds() > JOIN_SECONDS:
            result.gaps.insert(0, (plan.start, first))
        shown_until = last + timedelta(seconds=result.frame_interval or 0)
        if (plan.end - shown_until).total_seconds() > JOIN_SECONDS:
            result.gaps.append((shown_until, plan.end))
        for duplicate in plan.duplicates:
            assert duplicate.end is not None  # covering() reports an open row's reach as its end
            result.discontinuities.append(
                {"at": duplicate.start.isoformat(), "kind": "overlap",
                 "seconds": round((duplicate.end - duplicate.start).total_seconds(), 3),
                 "action": "a second recording of a span already copied (another worker's copy): left out"}
            )
        result.discontinuities.sort(key=lambda d: d["at"])
        if plan.truncated_at is not None:
            result.discontinuities.append(
                {"at": plan.truncated_at.isoformat(), "kind": "format-change", "seconds": 0.0,
                 "action": "codec or picture size changed: the rest of the range is left out"}
            )


def _remux_steps(plan: RangePlan, files: SegmentFiles, target: Any, options: dict[str, Any],
                 result: RemuxResult) -> Iterator[float]:
    """Copy the plan's packets into ``target`` under ``_Cut``'s rules; yields progress (0..1)."""
    out = av.open(target, "w", format="mp4", options=options)
    cut = _Cut(plan, result)
    try:
        out_stream = None
        total = max((plan.end - plan.first_keyframe).total_seconds(), 1e-3)
        reached_end = False
        for number, segment in enumerate(plan.segments):
            if reached_end:
                break
            path = files.path(segment)
            if not path.is_file():
                continue  # removed by retention while this ran: it becomes a gap
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                if out_stream is None:
                    out_stream = out.add_stream_from_template(stream)
                    out_stream.time_base = OUT_TIME_BASE
                if stream.time_base is None:
                    raise ValueError(f"{path}: video stream has no time base, its packets cannot be placed")
                scale = Fraction(stream.time_base) / OUT_TIME_BASE
                # Integer arithmetic per packet: Fraction objects cost more than the muxing itself.
                num, den = scale.numerator, scale.denominator
                base = _ticks(segment.start - plan.media_start)
                leave_at = _switch_point(plan, files, number)
                cut.enter_segment(base)
                first_pts = None
                copying = number > 0 or plan.first_keyframe_pts is None
                used = False
                for packet in _readable_packets(container, stream):
                    if packet.pts is None or packet.dts is None:
                        continue
                    if first_pts is None:
                        first_pts = packet.pts
                    if not copying:
                        if not (packet.is_keyframe and packet.pts == plan.first_keyframe_pts):
                            continue
                        copying = True
                    dts = base + _scaled(packet.dts - first_pts, num, den)
                    pts = base + _scaled(packet.pts - first_pts, num, den)
                    # The copies of one picture by two workers are placed by two clocks, a few ms
                    # apart either way: a picture within half a frame of the next copy's keyframe
                    # is that keyframe, shown by the next copy (a trial saw one twice, 33 µs apart).
                    if leave_at is not None and (cut.last_pts is None or cut.last_pts < leave_at) and \
                            pts >= leave_at - max(1, _scaled(packet.duration or 0, num, den) // 2):
                        break  # the next copy goes on from its keyframe here (decode order, as at the end)
                    admitted = cut.admit(pts, dts, packet.is_keyframe, same_segment=used)
                    if admitted is None:
                        reached_end = True
                        break
                    if not admitted:
                        continue
                    packet.stream = out_stream
                    packet.time_base = OUT_TIME_BASE
                    packet.dts, packet.pts = dts, pts
                    packet.duration = _scaled(packet.duration or 0, num, den)
                    out.mux(packet)
                    used = True
                    wall = cut.wall(pts)
                    result.first_frame = wall if result.first_frame is None else min(result.first_frame, wall)
                    result.last_frame = wall if result.last_frame is None else max(result.last_frame, wall)
                    result.frames += 1
                    result.keyframes += packet.is_keyframe
                    yield min(1.0, (wall - plan.first_keyframe).total_seconds() / total)
                if used:
                    result.segments.append(
                        {"path": segment.path, "worker_id": segment.worker_id, "start": segment.start.isoformat(),
                         "end": _reach(segment).isoformat(), "bytes": segment.bytes}
                    )
        cut.finish()
    finally:
        out.close()


def stream_mp4(plan: RangePlan, files: SegmentFiles, chunk_bytes: int = 256 * 1024) -> Iterator[bytes]:
    """The range as fragmented MP4, chunk by chunk as it is made (for a streaming response)."""
    sink = _Sink()
    result = RemuxResult()
    header_sent = False
    for _ in _remux_steps(plan, files, sink, FRAGMENTED_MP4, result):
        if sink.size >= chunk_bytes:
            yield _first_chunk(sink.take()) if not header_sent else sink.take()
            header_sent = True
    if sink.size:
        yield _first_chunk(sink.take()) if not header_sent else sink.take()


def _first_chunk(data: bytes) -> bytes:
    """The header chunk with HEVC tagged ``hvc1`` (FFmpeg would write ``hev1``)."""
    patched = bytearray(data)
    return bytes(patched) if retag_hvc1_in(patched) else data


def write_mp4(
    plan: RangePlan, files: SegmentFiles, path: Path, progress: Callable[[float], None] | None = None
) -> RemuxResult:
    """The range as one plain MP4 file (for evidence)."""
    result = RemuxResult()
    reported = -1.0
    for fraction in _remux_steps(plan, files, str(path), PLAIN_MP4, result):
        if progress is not None and fraction - reported >= 0.01:
            reported = fraction
            progress(fraction)
    if result.frames == 0:
        raise NothingRecorded(f"camera '{plan.camera_id}' has no picture in the requested range")
    retag_hvc1(path)
    return result


def timeline(db: Database, camera_id: str, start: datetime, end: datetime, earliest: datetime | None = None) -> dict[str, Any]:
    """Recorded runs, gaps and (when the events table exists) event markers within [start, end)."""
    if earliest is not None:
        start = max(start, earliest)
    runs: list[list[datetime]] = []
    if start < end:
        for segment in SegmentIndex(db).covering(camera_id, start, end):
            s, e = max(segment.start, start), min(_reach(segment), end)
            if runs and (s - runs[-1][1]).total_seconds() <= JOIN_SECONDS:
                runs[-1][1] = max(runs[-1][1], e)
            else:
                runs.append([s, e])
    gaps = [[a[1], b[0]] for a, b in zip(runs, runs[1:])]
    return {
        "camera_id": camera_id,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "recordings": [[s.isoformat(), e.isoformat()] for s, e in runs],
        "gaps": [[s.isoformat(), e.isoformat()] for s, e in gaps],
        "recorded_seconds": round(sum((e - s).total_seconds() for s, e in runs), 3),
        "events": _events(db, camera_id, start, end) if start < end else [],
    }


def _events(db: Database, camera_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    try:
        from vms.db.events import EventRow
    except ImportError:  # events are optional: a build without detection has no table
        return []
    from sqlalchemy import or_, select

    with db.session() as session:
        rows = session.scalars(
            select(EventRow)
            .where(EventRow.camera_id == camera_id, EventRow.start < end, or_(EventRow.end.is_(None), EventRow.end > start))
            .order_by(EventRow.start)
            .limit(2000)
        )
        return [
            {"id": r.id, "type": r.type, "start": r.start.isoformat(), "end": r.end.isoformat() if r.end else None,
             "zone": r.zone}
            for r in rows
        ]
