"""Settle index rows left open by a process that died while writing a segment."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import av

from vms.db import Segment
from vms.recordings.fmp4 import trim_to_playable
from vms.recordings.index import SegmentClosed, SegmentIndex
from vms.recordings.invariants import IndexInvariantError
from vms.recordings.locate import SegmentFiles

log = logging.getLogger(__name__)


@dataclass
class RepairReport:
    repaired: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # would overlap or lie in the future


@dataclass(frozen=True)
class MediaSpan:
    seconds: float
    frames: int
    keyframes: int


def measure(path: Path) -> MediaSpan:
    """Duration and frame counts of a segment's video, read from packets (no decoding)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        first = end = None
        frames = keyframes = 0
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            frames += 1
            keyframes += packet.is_keyframe
            first = packet.pts if first is None else min(first, packet.pts)
            tail = packet.pts + (packet.duration or 0)
            end = tail if end is None else max(end, tail)
        if first is None:
            return MediaSpan(0.0, 0, 0)
        return MediaSpan(float((end - first) * stream.time_base), frames, keyframes)


def repair_unfinished(index: SegmentIndex, recordings_dir: Path) -> RepairReport:
    """Trim each unfinished segment of this worker to its last complete fragment and close its row."""
    report = RepairReport()
    for segment in index.unfinished():
        _settle(index, recordings_dir / segment.path, segment, report)
    if report.repaired or report.removed:
        log.info("repaired %d unfinished segments, removed %d empty ones", len(report.repaired), len(report.removed))
    return report


def repair_abandoned(
    index: SegmentIndex, files: SegmentFiles, live_workers: set[str], quiet_seconds: float
) -> RepairReport:
    """Settle the unfinished segments of workers that are gone (not in ``live_workers``).

    A dead worker's last seconds would otherwise stay unplayable until it comes back under the
    same name (issue 11: 4.7 min). A worker merely cut off from Redis may still be writing, so
    a file is only touched once it has not grown for ``quiet_seconds`` (a writer appends a
    fragment at every keyframe, about every second or two).
    """
    report = RepairReport()
    now = time.time()
    for segment in index.unfinished_of_others():
        if segment.worker_id in live_workers:
            continue
        path = files.path(segment)
        try:
            if now - path.stat().st_mtime < quiet_seconds:
                continue
        except OSError:
            continue  # not on the storage this worker sees: left to its own worker
        _settle(index, path, segment, report)
    if report.repaired or report.removed:
        log.info("repaired %d segments left open by dead workers, removed %d empty ones",
                 len(report.repaired), len(report.removed))
    return report


def _settle(index: SegmentIndex, path: Path, segment: Segment, report: RepairReport) -> None:
    try:
        size = trim_to_playable(path) if path.exists() else 0
        span = measure(path) if size else MediaSpan(0.0, 0, 0)
    except (OSError, av.error.FFmpegError) as exc:
        log.warning("segment %s is unreadable (%s); removing it", segment.path, exc)
        size, span = 0, MediaSpan(0.0, 0, 0)
    if span.frames == 0:
        path.unlink(missing_ok=True)
        index.remove(segment.id)
        report.removed.append(segment.path)
        return
    end = segment.start + timedelta(seconds=span.seconds)
    try:
        index.finish(segment.id, SegmentClosed(end, size, span.frames, span.keyframes))
    except IndexInvariantError as exc:
        # Left open (and so never played as if it were whole): a person must look at it.
        log.error("segment %s cannot be closed without breaking the index: %s", segment.path, exc)
        report.refused.append(segment.path)
        return
    report.repaired.append(segment.path)
