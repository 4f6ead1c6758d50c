"""Splice out the steps of a camera's clock before anything else looks at its timestamps.

A camera whose clock steps (restarted pipeline, NTP correction) sends presentation times that
jump back or forward while its frames keep coming at the same pace. A step is recognised on
the PTS (RTP timestamps, the one clock the camera really sends): a PTS far below every recent
one, or further ahead of our clock than the least-delayed frame of the last
``LEAD_WINDOW_SECONDS`` of media was (frames delayed on the way, or missing frames, never look
like that). It is removed by an offset that puts the new frame in the first free slot of the
frame grid after the recent ones, so a B-frame lands between the pictures it belongs between
and decode order stays intact (the first ``reorder_depth + 1`` packets after a step are looked
at together to find that slot, and a slot is only taken if none of them lands on a picture
already placed: a slot left by a picture that never came is not a B-frame's place). After a
stall (nothing arrived for more than ``GAP_SECONDS``) the frame is put where the elapsed time
says instead, so the stall stays visible as a gap, unless the held packets still belong
before the newest picture (B-frames), which no gap may separate from it.
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
        # How far below every recent PTS a packet must be to be a step back. With B-frames any
        # picture below the lowest of the last 2*depth+4 is one: a B-frame is shown after the
        # reference picture before its own, which is among them. Left to the decode order
        # (streams.decode_order) a step back under a second read as "a deeper B-frame" and
        # gave the pictures after it PTS one tick apart: out of presentation order in the
        # file (decision 155). Without B-frames the timeline catches such a step (a DTS back).
        self.back = self.frame if reorder_depth else self.jump
        self.offset = 0
        self.depth = reorder_depth
        self._recent: deque[int] = deque(maxlen=2 * reorder_depth + 4)
        self._last_arrival: float | None = None
        self._pending: list[tuple[object, int, float]] = []  # packets after a step, raw pts
        self._leads: deque[tuple[int, float]] = deque()  # (pts, pts - arrival), leads decreasing

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
            ahead = pts * self.tb - arrival - self._lead_max(pts)
            if pts < low - self.back or ahead > JUMP_SECONDS:
                self._pending.append((item, raw_pts, arrival))
                return self._settle() if len(self._pending) > self.depth else []
        return [(item, self._note(pts, arrival), arrival, None)]

    def flush(self) -> list[Ready]:
        return self._settle() if self._pending else []

    def _settle(self) -> list[Ready]:
        pending, self._pending = self._pending, []
        raws = [raw for _, raw, _ in pending]
        first_raw = min(raws)
        elapsed = pending[0][2] - (self._last_arrival if self._last_arrival is not None else pending[0][2])
        target = self._free_slot([raw - first_raw for raw in raws])
        if elapsed > GAP_SECONDS and target > max(self._recent):
            # A stall as well: keep it visible. Not when the held packets start with B-frames
            # that belong before the newest picture: shown after it, they would be out of order.
            target = max(self._recent) + round(elapsed / self.tb)
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
        self._leads.append((pts, lead))
        return pts

    def _lead_max(self, pts: int) -> float:
        """The largest lead of the frames of the last ``LEAD_WINDOW_SECONDS`` of media before ``pts``.

        The window is media, not arrival time (as the timeline's, decision 107): a backlog read
        out after a stall longer than the window left only late frames in an arrival window, and
        a frame after pictures missing inside that backlog was less late than all of them by the
        missing stretch, which read as the clock stepping forward (issue 12, decision 155). In
        media time the frames before the stall stay the reference until the backlog's own media
        has covered the window. The newest lead stays however old it is: after a stall longer
        than the window, an empty window made every frame look ahead (a forward step)."""
        while len(self._leads) > 1 and (pts - self._leads[0][0]) * self.tb > LEAD_WINDOW_SECONDS:
            self._leads.popleft()
        return self._leads[0][1] if self._leads else float("-inf")

    def _free_slot(self, held: list[int]) -> int:
        """Where the smallest held PTS goes: the lowest slot of the frame grid in the reorder window
        below the newest PTS such that none of the held packets (``held``: their PTS relative to
        the smallest, in decode order) lands on a slot a recent frame holds (B-frames still to
        come, shown before the newest picture), else the slot after the newest.

        A slot is free also when its picture never came (lost, or not sent); putting held
        pictures there made them take the slots of pictures already placed (a P-frame and its
        B-frames after the step on the slots of the pictures before it): out of presentation
        order in the file (issue 12, decision 155)."""
        high = max(self._recent)
        if held[0] > 0:
            # The first held packet is shown after a later one: the next group's reference
            # picture, and every B-frame of the newest picture's group was decoded before it.
            return high + self.frame
        for k in range(self.depth, 0, -1):
            slot = high - k * self.frame
            if all(self._slot_free(slot + offset) for offset in held):
                return slot
        return high + self.frame

    def _slot_free(self, pts: int) -> bool:
        return all(abs(value - pts) > self.frame // 2 for value in self._recent)
