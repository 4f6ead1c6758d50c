"""Decoding timestamps for a stream whose DTS cannot be trusted.

RTP carries presentation times only; FFmpeg guesses DTS for B-frame streams, and after the
camera's clock steps back it gives up and sets DTS = PTS, which breaks decode order. So ingest
derives DTS itself, the way a decoder's reorder buffer does: with a reorder depth of D frames
the DTS of each packet is the smallest PTS among the packets seen and not yet used, once more
than D are waiting. Every DTS is then <= its PTS and strictly increasing within a run.
"""

from __future__ import annotations

import heapq
from collections import deque

# x264/x265 with B-pyramids reorder by at most 2 frames; deeper streams are learned (below).
B_FRAME_DEPTH = 2
MAX_DEPTH = 4


class DecodeOrder:
    """Give each packet (in decode order) a DTS from the PTS seen so far.

    ``reorder_depth``: frames the encoder may reorder (0 for I/P-only streams).
    ``frame_ticks``: one frame interval in the stream's time base; ``jump_ticks``: a PTS this
    far behind every waiting one is a step of the camera clock, not a B-frame.
    """

    def __init__(self, reorder_depth: int, frame_ticks: int, jump_ticks: int) -> None:
        self.depth = reorder_depth
        self.frame = max(1, frame_ticks)
        self.jump = jump_ticks
        self._waiting: list[int] = []
        self._last: int | None = None
        # PTS of the latest pictures: a picture's PTS is unique, so one seen again is the
        # camera repeating a timestamp, never a picture to reorder.
        self._seen: deque[int] = deque(maxlen=MAX_DEPTH + 4)
        self.learned = False  # the stream reordered deeper than announced
        self.duplicates = 0  # packets whose PTS a recent picture already had

    def dts(self, pts: int) -> tuple[int, int]:
        """(pts, dts) for the next packet; pts is only changed for a stream deeper than learned."""
        floor = self._waiting[0] if self._waiting else self._last
        top = max(self._waiting) if self._waiting else self._last
        if floor is not None and top is not None and (pts < floor - self.jump or pts > top + self.jump):
            # The clock stepped back, or frames went missing: what waits belongs to pictures
            # before the break, and giving their times to pictures after it would hide the gap.
            self.reset()
        last = self._last
        if last is not None and pts in self._seen:
            # Not a B-frame: learning a reorder depth from it gave every later packet a DTS
            # behind its PTS, which the live relay took for B-frames and refused the camera
            # (issue 12). It is shown just after the picture before it, as it came.
            self.duplicates += 1
            self._last = last + 1
            return last + 1, last + 1
        self._seen.append(pts)
        if last is not None and last - self.jump < pts <= last:
            # A B-frame deeper than we allowed for: learn the depth for what follows, and let
            # this one picture show as late as its decode order allows.
            self.depth = min(MAX_DEPTH, self.depth + 1)
            self.learned = True
            self._last = last + 1
            return last + 1, last + 1
        heapq.heappush(self._waiting, pts)
        if len(self._waiting) > self.depth:
            dts = heapq.heappop(self._waiting)
        else:
            start = pts - self.depth * self.frame if self._last is None else self._last + self.frame
            dts = min(start, self._waiting[0])
        if self._last is not None and dts <= self._last:
            dts = self._last + 1
        self._last = dts
        return max(pts, dts), dts

    def reset(self) -> None:
        self._waiting.clear()
        self._seen.clear()
        self._last = None
