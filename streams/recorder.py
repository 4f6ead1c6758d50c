"""Record one camera continuously into fragmented-MP4 segments, cut at keyframes.

The recorder consumes the ingest fan-out on a thread of a ``MuxPool`` (streams.mux_pool), never
on the ingest thread, so a slow disk costs dropped packets for the recorders alone (counted),
never a stalled camera or other consumers.
Storage errors (disk full, unwritable folder) end the current segment and recording resumes
at the next keyframe once space or the folder is back.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from streams.fanout import PacketQueue
from streams.mux_pool import Lane, MuxPool
from streams.packets import Discontinuity, MediaPacket, StreamEnd, StreamInfo, StreamItem
from streams.segment_writer import SegmentWriter
from vms.recordings.fmp4 import playable_length
from vms.recordings.index import NotOwner, SegmentClosed, SegmentIndex, SegmentOpened, SegmentPathTaken
from vms.recordings.invariants import FUTURE_TOLERANCE_SECONDS, IndexInvariantError
from vms.recordings.repair import MediaSpan, measure

log = logging.getLogger(__name__)

# How often (media seconds) an open segment tells the index how much of it is playable.
PROGRESS_SECONDS = 5.0
# A segment is cut at the first keyframe after this fraction of segment_seconds.
CUT_SLACK = 0.99
# Storage errors are retried at keyframes, but not more often than this.
STORAGE_RETRY_SECONDS = 2.0
# Names tried for one segment start before giving up: <start>Z.mp4, then <start>Z-2.mp4 ...
NAME_ATTEMPTS = 9
# A segment is not cut while it would end more than this after now (half the index's
# tolerance: the B-frame reorder delay puts a GOP's end a few frames after its keyframe).
CUT_AHEAD_SECONDS = FUTURE_TOLERANCE_SECONDS / 2
# ... but not for longer than this past the segment's length (the time model brings a line
# found after its arrivals back within a few seconds: streams.timeline.MAX_SLEW_AHEAD).
POSTPONE_MAX_SECONDS = 10.0


def segment_path(camera_id: str, start: datetime, copy: int = 1) -> str:
    """``<camera>/<YYYY-MM-DD>/<start>Z.mp4`` in UTC, relative to the recordings directory;
    ``copy`` 2, 3 ... gives ``<start>Z-2.mp4``: another recording of the camera (another worker
    during a partition) already holds the plain name."""
    start = start.astimezone(timezone.utc)
    suffix = "" if copy == 1 else f"-{copy}"
    return f"{camera_id}/{start:%Y-%m-%d}/{start:%Y%m%dT%H%M%S}.{start.microsecond // 1000:03d}Z{suffix}.mp4"


def claim_file(path: Path) -> bool:
    """Create ``path`` empty if no file has that name (atomically: O_EXCL); False if one has."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        return False
    return True


class _OpenSegment:
    def __init__(self, segment_id: int, start: datetime, writer: SegmentWriter) -> None:
        self.id = segment_id
        self.start = start
        self.writer = writer
        self.reported_seconds = 0.0  # media time last reported as playable to the index
        self.postponed = False  # its cut was postponed (it would have ended in the future)


class Recorder:
    def __init__(
        self,
        camera_id: str,
        queue: PacketQueue,
        index: SegmentIndex,
        recordings_dir: Path,
        segment_seconds: float = 60.0,
        on_storage_error: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.camera_id = camera_id
        self.queue = queue
        self.index = index
        self.recordings_dir = recordings_dir
        self.segment_seconds = segment_seconds
        self._on_storage_error = on_storage_error
        self._info: StreamInfo | None = None
        self._segment: _OpenSegment | None = None
        self._retry_after = 0.0
        self._released = False  # the index refused a segment: the lease is another worker's
        self._cut_at_keyframe = False
        self._last_end: datetime | None = None  # end of the previous segment of this session
        self._frame = timedelta(seconds=0.1)  # one frame interval (upper bound until known)
        self.recorded_until: float | None = None  # UTC epoch seconds the newest indexed row ends
        self.segments_written = 0
        self.bytes_written = 0
        self.last_segment_at: float | None = None  # UTC epoch seconds the last segment was finished
        self.last_error: str | None = None  # cleared once a segment opens again
        self.storage_errors = 0
        self.last_storage_error: str | None = None  # kept, for the health board and tests
        self.name = camera_id
        self._finished = threading.Event()
        self._lane: Lane | None = None

    def start(self, pool: MuxPool | None = None) -> "Recorder":
        """Record on a lane of ``pool`` (the worker's); alone, on a pool of its own."""
        self._lane = (pool or MuxPool(lanes=1)).add(self)
        return self

    def stop(self, timeout: float = 10) -> None:
        """Finish the current segment and wait for it (the queue is closed by its owner)."""
        self.queue.close()
        if self._lane is not None:
            self._lane.wake()
        self._finished.wait(timeout)

    @property
    def finished(self) -> bool:
        """True once the queue was closed and the last segment finished and indexed."""
        return self._finished.is_set()

    def service(self) -> bool:
        """Mux what the queue gathered (called by the pool); True once finished for good.

        Packets are taken in batches: a recording is not latency-sensitive, thread wake-ups are.
        """
        if self._finished.is_set():
            return True
        closed = self.queue.closed  # read before draining: nothing arrives after a close
        for item in self.queue.drain(wait=0):
            self._handle(item)
        if not closed:
            return False
        self._close_segment()
        self._finished.set()
        return True

    def _handle(self, item: StreamItem) -> None:
        if isinstance(item, MediaPacket):
            self._on_packet(item)
        elif isinstance(item, StreamInfo):
            self._close_segment()
            if self._info is None or item.camera_id != self._info.camera_id:
                self._last_end = None
            self._info = item
            self._frame = timedelta(seconds=1 / item.fps if item.fps and item.fps >= 1 else 0.1)
        elif isinstance(item, StreamEnd):
            self._close_segment()
            self._info = None
            self._last_end = None
        elif isinstance(item, Discontinuity) and self._info is not None and item.session == self._info.session:
            if item.kind == "drift":
                # A slew inside a run: the frames are already spaced on the corrected timeline and
                # the file holds them as placed, so the run (and the segment) goes on. Cutting here
                # gave a camera whose clock runs a few per cent off a new 1-3 s file every second
                # of accumulated correction.
                return
            if item.kind in ("gap", "lost"):
                # Frames are missing (or were left out by ingest, streams.access_units): the
                # segment ends at its last frame, the next one starts at the next keyframe
                # (what comes before it references frames that never came).
                self._close_segment()
            else:
                # The clock broke but frames kept coming on the corrected timeline: keep them
                # all, and end this run's segment at the next keyframe.
                self._cut_at_keyframe = True

    def _on_packet(self, packet: MediaPacket) -> None:
        if self._info is None or packet.session != self._info.session:
            return
        if packet.keyframe:
            segment = self._segment
            if self._cut_at_keyframe:
                self._cut_at_keyframe = False
                self._close_segment()
                segment = None
            # Slewing (streams.timeline) may make N seconds of media a hair shorter than N.
            if segment is None or (segment.writer.media_seconds >= self.segment_seconds * CUT_SLACK
                                   and not self._cut_postponed(segment)):
                self._close_segment()
                self._open_segment(packet)
        if self._segment is None:
            return  # waiting for a keyframe after a gap or a storage error
        segment = self._segment
        before = segment.writer.media_seconds
        try:
            segment.writer.write(packet)
        except Exception as exc:
            self._storage_failed(f"writing {segment.writer.path}", exc)
            self._close_segment(failed=True)
            return
        if packet.keyframe and before - segment.reported_seconds >= PROGRESS_SECONDS:
            # A keyframe makes the muxer write out the fragment before it: all media up to
            # here is now on disk in whole fragments and may be played back.
            self._report_progress(segment, before)

    def _cut_postponed(self, segment: _OpenSegment) -> bool:
        """Whether this keyframe's cut waits for a later one: the segment would end in the future.

        Happens only while the time model brings back a line found after its arrivals
        (streams.timeline, at most a few seconds): the index refuses a row ending in the
        future, and a refused close left the row open. Writing on into the next GOP keeps the
        file and the index exact; ``POSTPONE_MAX_SECONDS`` past the segment length the cut is
        made anyway (the index then defers the close, vms.recordings.buffered_index)."""
        end = segment.start + timedelta(seconds=segment.writer.media_seconds)
        ahead = (end - datetime.now(timezone.utc)).total_seconds()
        if ahead <= CUT_AHEAD_SECONDS or segment.writer.media_seconds >= self.segment_seconds + POSTPONE_MAX_SECONDS:
            return False
        if not segment.postponed:
            segment.postponed = True
            log.info("camera %s: segment cut postponed: it would end %.3f s in the future", self.camera_id, ahead)
        return True

    def _report_progress(self, segment: _OpenSegment, seconds: float) -> None:
        segment.reported_seconds = seconds
        try:
            size = segment.writer.path.stat().st_size
            self.index.progress(segment.id, segment.start + timedelta(seconds=seconds), size)
        except Exception:
            log.warning("could not record progress of %s", segment.writer.path, exc_info=True)

    def _open_segment(self, packet: MediaPacket) -> None:
        if time.monotonic() < self._retry_after:
            return
        assert self._info is not None
        start = datetime.fromtimestamp(packet.wall_time, timezone.utc)
        if self._last_end is not None and timedelta(0) < self._last_end - start <= self._frame * 1.5:
            # Slewing and B-frame reordering can leave the previous segment's last picture
            # ending a fraction of a frame after this keyframe's time: rows must not overlap.
            start = self._last_end
        try:
            # The row goes first: a crash after it leaves a row that repair can settle,
            # a crash before it leaves nothing.
            segment_id, start, relative = self._begin(start)
        except NotOwner as exc:
            # The lease has moved on (a hand-over's overlap ended, or another worker took a lapsed
            # lease): the new holder records the camera. Not a storage fault, so no error and no
            # storage alarm; this recorder writes nothing more of it until it is stopped.
            if not self._released:
                log.info("camera %s: not recording here any more: %s", self.camera_id, exc)
            self._released = True
            self._retry_after = time.monotonic() + STORAGE_RETRY_SECONDS
            return
        except Exception as exc:
            self._storage_failed("indexing a new segment", exc)
            return
        self._released = False
        try:
            writer = SegmentWriter(self.recordings_dir / relative, self._info)
        except Exception as exc:
            self._storage_failed(f"creating {self.recordings_dir / relative}", exc)
            self.index.remove(segment_id)
            (self.recordings_dir / relative).unlink(missing_ok=True)  # the name claimed for it
            return
        self._segment = _OpenSegment(segment_id, start, writer)
        self.last_error = None

    def _begin(self, start: datetime) -> tuple[int, datetime, str]:
        """Index a new segment at ``start``; if the index refuses that time (a fault of the time
        model, never expected), index it at the nearest time it accepts rather than lose the
        recording: now for a start in the future, the previous row's end for an overlap."""
        try:
            return self._begin_at(start)
        except IndexInvariantError as exc:
            now = datetime.now(timezone.utc)
            moved = min(start, now) if self._last_end is None else max(min(start, now), self._last_end)
            log.error("camera %s: %s; indexing the segment at %s instead", self.camera_id, exc, moved.isoformat())
            return self._begin_at(moved)

    def _begin_at(self, start: datetime) -> tuple[int, datetime, str]:
        """Index a segment at ``start`` under a name no other recording holds, in the index or on
        disk. Two workers recording one camera (a partition: duplicates over loss) can place a
        keyframe at the same millisecond; the second takes ``<start>Z-2.mp4``, never the first's file."""
        assert self._info is not None
        info = self._info
        # Names taken only by other workers' rows are the expected overlap of a hand-over or a
        # takeover from a standby's pre-roll (or of a partition): worth an INFO line, not a WARNING.
        expected = True
        for copy in range(1, NAME_ATTEMPTS + 1):
            relative = segment_path(self.camera_id, start, copy)
            try:
                segment_id = self.index.begin(SegmentOpened(self.camera_id, start, relative, info.codec, info.width, info.height))
            except SegmentPathTaken as taken:
                expected &= taken.holder is not None and taken.holder != self.index.worker_id
                continue
            # The row is ours; the file may still be another's whose row this index has not seen
            # (its database writes were buffered while the database was away).
            try:
                claimed = claim_file(self.recordings_dir / relative)
            except OSError:  # a full disk or an unwritable folder: no row without its file
                self.index.remove(segment_id)
                raise
            if claimed:
                if copy > 1:
                    log.log(logging.INFO if expected else logging.WARNING,
                            "camera %s: %s is another recording's; this one is %s%s", self.camera_id,
                            segment_path(self.camera_id, start), relative,
                            " (another worker's row: the expected overlap of a hand-over)" if expected else "")
                return segment_id, start, relative
            expected = False  # a file on disk with no row here: not a hand-over
            self.index.remove(segment_id)
        raise SegmentPathTaken(f"no free name for {segment_path(self.camera_id, start)} after {NAME_ATTEMPTS} tries")

    def _close_segment(self, failed: bool = False) -> None:
        """Finish the open segment and its row; after a failed write keep only whole fragments."""
        segment, self._segment = self._segment, None
        if segment is None:
            return
        writer = segment.writer
        if failed:
            # What the muxer would still flush lands after the half-written fragment and would
            # leave a corrupt one inside the file: remember where the whole fragments end.
            size, span = self._salvage(writer)
        else:
            try:
                size = writer.close()
                # FFmpeg does not always report a failed final write (disk full while the
                # trailer flushes): believe the file only if it ends on a whole fragment.
                if playable_length(writer.path) != size:
                    raise OSError(f"{writer.path} was not written completely (disk full?)")
                # The index states what the file holds, read back from it (demux, no decoding).
                span = measure(writer.path)
                if span.frames != writer.frames:
                    log.error("%s holds %d frames, %d were written", writer.path, span.frames, writer.frames)
            except Exception as exc:
                self._storage_failed(f"finishing {writer.path}", exc)
                size, span = self._salvage(writer)
        try:
            if span.frames == 0:
                writer.path.unlink(missing_ok=True)
                self.index.remove(segment.id)
                return
            end = segment.start + timedelta(seconds=span.seconds)
            self.index.finish(segment.id, SegmentClosed(end, size, span.frames, span.keyframes))
            self._last_end = end
            self.recorded_until = max(end.timestamp(), self.recorded_until or 0.0)
        except Exception as exc:
            # The row stays open and is settled by repair at the next start.
            self._storage_failed(f"indexing {writer.path}", exc)
            return
        self.segments_written += 1
        self.bytes_written += size
        self.last_segment_at = time.time()

    @staticmethod
    def _salvage(writer: SegmentWriter) -> tuple[int, MediaSpan]:
        """Cut a segment whose writing failed back to its complete fragments and measure it."""
        path = writer.path
        try:
            whole = playable_length(path) if path.exists() else 0
            try:
                writer.close()
            except Exception:
                pass  # the disk is still full; the file is cut back below anyway
            if not whole:
                return 0, MediaSpan(0.0, 0, 0)
            with open(path, "r+b") as handle:
                handle.truncate(whole)
            return whole, measure(path)
        except Exception:
            log.exception("could not salvage %s", path)
            return 0, MediaSpan(0.0, 0, 0)

    def _storage_failed(self, what: str, exc: Exception) -> None:
        self.last_error = f"recording of {self.camera_id} failed while {what}: {exc}"
        self.last_storage_error = self.last_error
        self.storage_errors += 1
        self._retry_after = time.monotonic() + STORAGE_RETRY_SECONDS
        log.error("%s", self.last_error)
        try:
            self._on_storage_error(self.last_error)
        except Exception:
            log.exception("storage error handler failed")
