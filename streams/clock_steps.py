"""Splice out the steps of a camera's clock before anything else looks at its timestamps.

A camera whose clock steps (restarted pipeline, NTP correction) sends presentation times that
jump back or forward while its frames keep coming at the same pace. A step is recognised on
the PTS (RTP timestamps, the one clock the camera really sends): a PTS far below every recent
one, or far above them by more than the time that passed. It is removed by an offset that
puts the new frame in the first free slot of the frame grid after the recent ones, so a
B-frame lands between the pictures it belongs between and decode order stays intact. After a
stall (nothing arrived for more than ``GAP_SECONDS``) the frame is put where the elapsed time
says instead, so the stall stays visible as a gap.
"""

from __future__ import annotations

from collections import deque
from fractions import Fraction

from streams.timeline import GAP_SECONDS, JUMP_SECONDS


class StepSplicer:
    """Corrects one session's PTS for steps of the camera clock; reports each step once."""

    def __init__(self, time_base: Fraction, frame_ticks: int, reorder_depth: int) -> None:
        self.tb = float(time_base)
        self.frame = max(1, frame_ticks)
        self.jump = round(JUMP_SECONDS / self.tb)
        self.offset = 0
        self.depth = reorder_depth
        self._recent: deque[int] = deque(maxlen=2 * reorder_depth + 4)
        self._last_arrival: float | None = None

    def correct(self, raw_pts: int, arrival: float) -> tuple[int, tuple[str, float] | None]:
        """(corrected pts, (kind, seconds) of a step just spliced out or None)."""
        pts = raw_pts + self.offset
        step = None
        if self._recent:
            low, high = min(self._recent), max(self._recent)
            elapsed = arrival - self._last_arrival
            if pts < low - self.jump or pts > high + self.jump + round(elapsed / self.tb):
                target = high + round(elapsed / self.tb) if elapsed > GAP_SECONDS else self._free_slot()
                step = ("backward" if pts < target else "forward", (pts - target) * self.tb)
                self.offset += target - pts
                pts = target
        self._recent.append(pts)
        self._last_arrival = arrival
        return pts, step

    def _free_slot(self) -> int:
        """The lowest slot of the frame grid in the reorder window below the newest PTS that no
        recent frame holds (a B-frame's place), else the slot after the newest."""
        high = max(self._recent)
        for k in range(self.depth, 0, -1):
            slot = high - k * self.frame
            if all(abs(value - slot) > self.frame // 2 for value in self._recent):
                return slot
        return high + self.frame
