"""The rules every row of the segment index obeys, checked where rows are written and by verify.

For one camera: rows never overlap; ``end >= start``; no row ends after now (plus
``FUTURE_TOLERANCE_SECONDS``); the indexed duration equals the file's within one frame and the
indexed frame count equals the file's. The writers (``SegmentIndex.begin``/``finish``) refuse a
row that breaks the first three with ``IndexInvariantError``; the recorder and repair index the
duration and frame count they measured in the file itself. ``vms.recordings.verify`` checks
all five against the files at any time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# A row may end this far after the moment it is written: the newest frame's display time plus
# the B-frame reorder delay (at most a few frames) lie slightly after its arrival.
FUTURE_TOLERANCE_SECONDS = 0.5
# Rows of one camera may touch; float rounding of tick sums may make them overlap by microseconds.
OVERLAP_TOLERANCE_SECONDS = 0.001


class IndexInvariantError(ValueError):
    """A segment row would break an index invariant; nothing was written."""


@dataclass(frozen=True)
class Violation:
    camera_id: str
    path: str
    rule: str  # "overlap", "negative", "future", "missing", "size", "duration", "frames", "unreadable"
    detail: str

    def __str__(self) -> str:
        return f"{self.camera_id} {self.path}: {self.rule}: {self.detail}"


def time_problems(start: datetime, end: datetime | None, previous_end: datetime | None,
                  next_start: datetime | None, now: datetime) -> list[tuple[str, str]]:
    """(rule, detail) for every time invariant a row [start, end) would break among its neighbours."""
    problems = []
    slack = timedelta(seconds=OVERLAP_TOLERANCE_SECONDS)
    future = now + timedelta(seconds=FUTURE_TOLERANCE_SECONDS)
    if previous_end is not None and start < previous_end - slack:
        problems.append(("overlap", f"starts {(previous_end - start).total_seconds():.3f} s before the previous row ends"))
    if end is not None and end < start:
        problems.append(("negative", f"ends {(start - end).total_seconds():.3f} s before it starts"))
    if start > future:
        problems.append(("future", f"starts {(start - now).total_seconds():.3f} s in the future"))
    if end is not None and end > future:
        problems.append(("future", f"ends {(end - now).total_seconds():.3f} s in the future"))
    if end is not None and next_start is not None and end > next_start + slack:
        problems.append(("overlap", f"ends {(end - next_start).total_seconds():.3f} s after the next row starts"))
    return problems


def enforce(camera_id: str, path: str, problems: list[tuple[str, str]]) -> None:
    if problems:
        raise IndexInvariantError("; ".join(str(Violation(camera_id, path, rule, detail)) for rule, detail in problems))
