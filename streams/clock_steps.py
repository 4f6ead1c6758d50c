"""Splice out the steps of a camera's clock before anything else looks at its timestamps.

A camera whose clock steps (restarted pipeline, NTP correction) sends presentation times that
jump back or forward while its frames keep coming at the same pace. A step is recognised on
the PTS (RTP timestamps, the one clock the camera really sends): a PTS far below every recent
one, or further ahead of our clock than the least-delayed recent frame was (frames delayed on
the way, or missing frames, never look like that). It is removed by an offset that
puts the new frame in the first free slot of the frame grid after the recent ones, so a
B-frame lands between the pictures it belongs between and decode order stays intact (the
first ``reorder_depth + 1`` packets after a step are looked at together to find that slot). After a
stall (nothing arrived for more than ``GAP_SECONDS``) the frame is put where the elapsed time
says instead, so the stall stays visible as a gap.
"""

from __future__ import annotations

from collections import deque
from fractions import Fraction

from streams.timeline import GAP_SECONDS, JUMP_SECONDS, LEAD_WINDOW_SECONDS

Step = tuple[str, float]  # (kind, seconds) of a step spliced out
Ready = tuple[object, int, float, Step | None]  # (item, corrected pts, arrival, step)


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
        self._pending: list[tuple[object, int, float]] = []  # packets after a step, raw pts
        self._leads: deque[tuple[float, float]] = deque()  # (arrival, pts - arrival), decreasing

    def push(self, item: object, raw_pts: int, arrival: float) -> list[Ready]:
        """(item, corrected pts, arrival, step) for every packet that is ready, in order.

        After a step the first ``reorder_depth + 1`` packets are held: the smallest of their
        PTS is the next picture in presentation order, and it goes into the first free slot.
        """
        if self._pending:
            self._pending.append((item, raw_pts, arrival))
            return self._settle() if len(self._pending) > self.depth else []
        pts = raw_pts + self.offset
        if self._recent:
            low = min(self._recent)
            # Ahead of the least-delayed recent frame by more than a jump: frames held up on
            # the way (a burst) are behind it, never ahead, so only a clock step gets here.
            ahead = pts * self.tb - arrival - self._lead_max(arrival)
            if pts < low - self.jump or ahead > JUMP_SECONDS:
                self._pending.append((item, raw_pts, arrival))
                return self._settle() if len(self._pending) > self.depth else []
        return [(item, self._note(pts, arrival), arrival, None)]

    def flush(self) -> list[Ready]:
        return self._settle() if self._pending else []

    def _settle(self) -> list[Ready]:
        pending, self._pending = self._pending, []
        first_raw = min(raw for _, raw, _ in pending)
        elapsed = pending[0][2] - (self._last_arrival if self._last_arrival is not None else pending[0][2])
        if elapsed > GAP_SECONDS:
            target = max(self._recent) + round(elapsed / self.tb)  # a stall as well: keep it visible
        else:
            target = self._free_slot()
        old_offset, self.offset = self.offset, target - first_raw
        step: Step | None = ("backward" if self.offset > old_offset else "forward", (old_offset - self.offset) * self.tb)
        out: list[Ready] = []
        for item, raw, arrival in pending:
            out.append((item, self._note(raw + self.offset, arrival), arrival, step))
            step = None
        return out

    def _note(self, pts: int, arrival: float) -> int:
        self._recent.append(pts)
        self._last_arrival = arrival
        lead = pts * self.tb - arrival
        while self._leads and self._leads[-1][1] <= lead:
            self._leads.pop()  # an older, smaller lead can never be the maximum again
        self._leads.append((arrival, lead))
        return pts

    def _lead_max(self, now: float) -> float:
        # The newest lead stays however old it is: after a stall longer than the window, an
        # empty window made every frame look ahead (a forward step), and the stall rule then
        # put a delayed backlog after its own arrival, up to the stall's length in the future.
        while len(self._leads) > 1 and now - self._leads[0][0] > LEAD_WINDOW_SECONDS:
            self._leads.popleft()
        return self._leads[0][1] if self._leads else float("-inf")

    def _free_slot(self) -> int:
        """The lowest slot of the frame grid in the reorder window below the newest PTS that no
        recent frame holds (a B-frame's place), else the slot after the newest."""
        high = max(self._recent)
        for k in range(self.depth, 0, -1):
            slot = high - k * self.frame
            if all(abs(value - slot) > self.frame // 2 for value in self._recent):
                return slot
        return high + self.frame
