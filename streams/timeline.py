"""Place one stream's frames on our wall clock; the camera's media clock only spaces them.

A *run* is a stretch of packets whose media timestamps are trusted to space frames:
``wall(x) = w0 + (x - x0) * time_base * rate``. Our clock at arrival places each run. A run
ends at a discontinuity of the camera clock (a backward step, a forward jump); a new run
starts where the previous one left off, so frames keep their real spacing and no false gap
appears. Inside a run, ``rate`` follows the camera clock's drift against ours (slewed at
keyframes, never stepped), so the placement never runs ahead of arrival.

The output is a corrected timeline: ``pts``/``dts`` in the stream's time base, counted from
the session's first frame, strictly increasing in decode order, with the same PTS/DTS
relation (B-frame order) as the camera's. See docs/storage.md, "Time model".
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from fractions import Fraction

# A media step this much larger than the arrival step is a forward jump of the camera clock.
JUMP_SECONDS = 1.0
# Corrected time advancing this much more than one frame between two frames is a gap.
GAP_SECONDS = 1.0
# No packet for this long, then media time that did not advance as much: a burst after a stall.
STALL_SECONDS = 1.0
# Leads (placed minus arrival time) are compared over this window: its maximum is the
# least-delayed frame, the one that tells where the camera's clock really is.
LEAD_WINDOW_SECONDS = 5.0
# Slewing: the lead is removed over this horizon, never faster than MAX_SLEW (fraction).
# Behind our clock is slewed as fast as ahead of it: a line left behind places pictures
# before their capture (up to 0.74 s in a loaded demo), as wrong as after their arrival.
SLEW_HORIZON_SECONDS = 2.0
MAX_SLEW = 0.05
# Frames placed ahead of their arrival (the index must not run ahead): a picture placed after
# it arrived is a lie about when it existed, and rows then end in the future and are refused.
# Removed over 2 s, at most 25 % (pictures shown at 0.8 of their spacing: a 1 s lead is gone in
# about 4 s instead of 20 s at 5 %, docs/decisions.md).
SLEW_AHEAD_HORIZON_SECONDS = 2.0
MAX_SLEW_AHEAD = 0.25
# The camera's rate is estimated from one least-delayed point per bucket over this window.
RATE_BUCKET_SECONDS = 2.0
RATE_WINDOW_SECONDS = 60.0
RATE_MIN_SPAN_SECONDS = 10.0
# A rate read from the two halves of the window that differ by more than this is not a clock
# (a crystal's rate is steady for minutes) but queueing: a backlog building or draining under
# load. Such an estimate is refused and the previous one kept.
RATE_AGREEMENT = 0.005
# No camera clock runs this far from ours; a larger apparent rate is queueing as well.
MAX_CLOCK_RATE_ERROR = 0.05
# Every this many seconds of accumulated drift correction in a run is reported once.
DRIFT_REPORT_SECONDS = 1.0
# A new run's first packets that arrive faster than real time (FFmpeg's probe buffer, a
# burst) are held until one arrives in real time; at most this many.
MAX_HELD_PACKETS = 250
# A session's first run is held until the delay of its packets has stopped shrinking for this
# long: with many sessions opening at once the probe's packets are read out with scheduler
# pauses between reads, and one pause looked like a packet arriving in real time (below).
SETTLE_SECONDS = 0.5
# ... but never longer than this (arrival time): packets that keep coming in clumps (a camera or
# a machine that stalls every second or two) never settle, and holding them up to
# MAX_HELD_PACKETS kept each new session's pictures from every consumer for 10 s.
MAX_HOLD_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class ClockEvent:
    """A discontinuity of the camera clock, or a gap in what arrived.

    ``kind``: ``backward``, ``forward``, ``drift``, ``burst``, ``gap`` (and ``lost``, reported by
    ingest, see streams.access_units); ``seconds``: its size
    (how far the clock stepped, drifted, stalled, or how long the gap is); ``wall_time``: where
    on our clock it happened (UTC epoch seconds).
    """

    kind: str
    seconds: float
    wall_time: float


@dataclass(frozen=True, slots=True)
class Placement:
    pts: int  # corrected, in the stream's time base, from the session's first frame
    dts: int
    wall_time: float  # UTC epoch seconds of the presentation time
    events: tuple[ClockEvent, ...] = ()


_Held = tuple[object, int, int, float, tuple[ClockEvent, ...]]  # item, pts, dts, arrival, events


class _Run:
    def __init__(self, x0: int, w0: float, time_base: Fraction) -> None:
        self.x0, self.w0, self.rate = x0, w0, 1.0
        self.base_rate = 1.0  # the camera clock's rate against ours, as last estimated
        self.tb = float(time_base)
        self.start_x0, self.start_w0 = x0, w0  # for the drift accounting of the run
        self.reported_drift = 0
        self.buckets: deque[tuple[float, float, float]] = deque()  # (bucket start, media s, arrival)

    def wall(self, x: int) -> float:
        return self.w0 + (x - self.x0) * self.tb * self.rate

    def rebase(self, x: int, rate: float) -> None:
        self.w0, self.x0, self.rate = self.wall(x), x, rate

    def drift(self, x: int) -> float:
        """How far slewing has moved this run away from the camera's own clock, in seconds."""
        return self.wall(x) - (self.start_w0 + (x - self.start_x0) * self.tb)

    def note_arrival(self, x: int, arrival: float) -> None:
        media = (x - self.start_x0) * self.tb
        if self.buckets and arrival - self.buckets[-1][0] < RATE_BUCKET_SECONDS:
            start, m, a = self.buckets[-1]
            if arrival - media < a - m:
                self.buckets[-1] = (start, media, arrival)
        else:
            self.buckets.append((arrival, media, arrival))
        while self.buckets and arrival - self.buckets[0][0] > RATE_WINDOW_SECONDS:
            self.buckets.popleft()

    def camera_rate(self) -> float | None:
        """Our seconds per camera second (least squares over least-delayed points), or None.

        None also when the window's two halves disagree (``RATE_AGREEMENT``) or the rate is
        implausible for a clock (``MAX_CLOCK_RATE_ERROR``): the least-delayed arrivals then
        trace a backlog draining or building under load, and taking that for the camera's
        rate placed pictures up to a second before their capture (docs/decisions.md).
        """
        points = list(self.buckets)
        if len(points) < 6 or points[-1][1] - points[0][1] < RATE_MIN_SPAN_SECONDS:
            return None
        middle = (points[0][1] + points[-1][1]) / 2
        rates = [_slope(points), _slope([p for p in points if p[1] <= middle]),
                 _slope([p for p in points if p[1] > middle])]
        whole, first, second = rates
        if whole is None or first is None or second is None or abs(first - second) > RATE_AGREEMENT:
            return None
        return whole if abs(whole - 1) <= MAX_CLOCK_RATE_ERROR else None


def _slope(points: list[tuple[float, float, float]]) -> float | None:
    """Least-squares d(arrival)/d(media) of (bucket start, media s, arrival s) points, or None."""
    n = len(points)
    if n < 3:
        return None
    mm = sum(m for _, m, _ in points) / n
    ma = sum(a for _, _, a in points) / n
    var = sum((m - mm) ** 2 for _, m, _ in points)
    cov = sum((m - mm) * (a - ma) for _, m, a in points)
    return cov / var if var > 0 else None


class MediaTimeline:
    """Turns (pts, dts, arrival) of one session's access units into placements, in order.

    ``push`` returns the placements that are ready (a new run's first packets may be held
    for a moment, see ``MAX_HELD_PACKETS``); ``flush`` returns what is still held.
    ``not_before``: the end of what the previous session placed (no overlap across reconnects).
    """

    def __init__(self, time_base: Fraction, fps: float | None, not_before: float = 0.0) -> None:
        self.tb = Fraction(time_base)
        self.frame = 1 / fps if fps and 1 <= fps <= 240 else 0.04
        self.not_before = not_before
        self.epoch: float | None = None
        self._run: _Run | None = None
        self._held: list[_Held] = []
        self._last: tuple[int, float, float] | None = None  # raw dts, arrival, placed wall (dts)
        self._last_out_dts = -1
        self._end = not_before  # wall time just past the newest presented frame
        self._arrivals: deque[tuple[float, int]] = deque()  # (arrival, raw dts) of the run's last 5 s
        self.events: list[ClockEvent] = []  # every event of the session, for tests and status

    # -- public ---------------------------------------------------------------------------

    def push(self, item: object, pts: int, dts: int, keyframe: bool, arrival: float,
             step: tuple[str, float] | None = None) -> list[tuple[object, Placement]]:
        """``step``: (kind, seconds) of a clock step already spliced out of pts (clock_steps.py)."""
        events: list[ClockEvent] = []
        if step is not None:
            events.append(ClockEvent(step[0], step[1], self._last[2] if self._last else arrival))
        if self._run is None or self._held:
            return self._start_run(item, pts, dts, arrival, tuple(events))
        assert self._last is not None  # a run has placed at least one packet
        x_last, a_last, w_last = self._last
        dm = (dts - x_last) * float(self.tb)
        da = arrival - a_last
        run = self._run
        if dm <= 0:  # clock_steps.py splices steps out first; this is the last line of defence
            events.append(ClockEvent("backward", dm - self.frame, w_last))
            return self._break(item, pts, dts, arrival, events)
        if da > STALL_SECONDS and dm < da / 2:
            events.append(ClockEvent("burst", da, w_last))
        if keyframe:
            self._slew(dts, arrival, events)
        run.note_arrival(dts, arrival)
        return [(item, self._place(pts, dts, arrival, events))]

    def flush(self) -> list[tuple[object, Placement]]:
        held, self._held = self._held, []
        return self._anchor_held(held) if held else []

    # -- runs -----------------------------------------------------------------------------

    def _break(self, item: object, pts: int, dts: int, arrival: float,
               events: list[ClockEvent]) -> list[tuple[object, Placement]]:
        self._run = None
        return self._start_run(item, pts, dts, arrival, tuple(events))

    def _start_run(self, item: object, pts: int, dts: int, arrival: float,
                   events: tuple[ClockEvent, ...]) -> list[tuple[object, Placement]]:
        """Hold a new run's packets while they come faster than real time, then place them all."""
        if self._held:
            previous_arrival = self._held[-1][3]
            media = (dts - self._held[-1][2]) * float(self.tb)
            in_real_time = arrival - previous_arrival >= min(self.frame, max(media, 0.0)) / 2
            if media <= 0 or media > JUMP_SECONDS:
                # The clock stepped again while we were holding: place what we hold first.
                placed = self.flush()
                self._run = None
                return placed + self._start_run(item, pts, dts, arrival, events)
            self._held.append((item, pts, dts, arrival, events))
            # A session's first run waits until the backlog has drained; a later run (after a
            # clock step, frames still coming) goes on at the first packet in real time.
            done = self._backlog_drained() if self._last is None else in_real_time
            if done or len(self._held) >= MAX_HELD_PACKETS or arrival - self._held[0][3] >= MAX_HOLD_SECONDS:
                return self.flush()
            return []
        self._held.append((item, pts, dts, arrival, events))
        return []

    def _backlog_drained(self) -> bool:
        """Whether the held packets' least delay has stopped shrinking for ``SETTLE_SECONDS``.

        A backlog read out (a probe buffer, a burst) makes each packet less late than the one
        before: the lead (media time minus arrival) grows by up to a frame per packet. Once
        packets arrive in real time the lead only jitters. Anchoring before that, on a packet
        still late, placed the whole session after its arrivals (0.8 s at 240 sessions opening
        at once, slewed away over 20 s; docs/decisions.md)."""
        held = self._held
        newest = held[-1][3]
        if newest - held[0][3] < SETTLE_SECONDS:
            return False
        tb = float(self.tb)
        best = max(dts * tb - arrival for _, _, dts, arrival, _ in held)
        before = max(dts * tb - arrival for _, _, dts, arrival, _ in held if arrival <= newest - SETTLE_SECONDS)
        return best - before <= self.frame / 2

    def _anchor_held(self, held: list[_Held]) -> list[tuple[object, Placement]]:
        tb = float(self.tb)
        # The held packet with the least delay (largest media minus arrival) places the run.
        _, _, x_ref, a_ref, _ = max(held, key=lambda h: h[2] * tb - h[3])
        first_x = held[0][2]
        w_first = a_ref - (x_ref - first_x) * tb
        floor = self._floor()
        if self._last is not None and held[0][3] - self._last[1] < GAP_SECONDS:
            w_first = floor  # the clock stepped while frames kept coming: continue seamlessly
        w_first = max(w_first, floor)
        self._run = _Run(first_x, w_first, self.tb)
        self._arrivals.clear()  # another run's media times do not carry forward
        out = []
        for item, pts, dts, arrival, events in held:
            self._run.note_arrival(dts, arrival)
            out.append((item, self._place(pts, dts, arrival, list(events))))
        return out

    def _floor(self) -> float:
        """The earliest wall time a new run's first frame (its DTS) may take: after the previous
        run's newest DTS, and after its newest *presented* picture. With B-frames the newest
        picture is shown frames after the newest DTS; a run anchored only after the DTS gave
        its first pictures the presentation times of the previous run's last ones (out of
        presentation order in the file, decision 155). Every PTS of the new run is at or after
        its first DTS (streams.decode_order), so every picture of it is shown after them all."""
        if self._last is None:
            return self.not_before
        return max(self.not_before, self._last[2] + self.frame, self._end)

    def _slew(self, dts: int, arrival: float, events: list[ClockEvent]) -> None:
        run = self._run
        assert run is not None
        lead = self._lead_max(dts)
        run.base_rate = run.camera_rate() or run.base_rate
        rate = run.base_rate
        if lead > 0:  # ahead of our clock is worse than behind it: catch up faster
            correction = min(MAX_SLEW_AHEAD, lead / SLEW_AHEAD_HORIZON_SECONDS)
        else:
            correction = max(-MAX_SLEW, lead / SLEW_HORIZON_SECONDS)
        run.rebase(dts, rate * (1 - correction))
        drift = run.drift(dts)
        steps = int(abs(drift) // DRIFT_REPORT_SECONDS)
        if steps > run.reported_drift:
            run.reported_drift = steps
            events.append(ClockEvent("drift", drift, run.wall(dts)))

    def _lead_max(self, dts: int) -> float:
        """How far the run's line, where it is now, lies ahead of the least-delayed arrival of
        the last ``LEAD_WINDOW_SECONDS`` of media (each carried forward to ``dts`` at the camera's rate).

        Measured against the line as it is now, not as each frame was placed: the lead a frame
        had when placed still counted the correction made since, so the slew went on for up to
        the window's length past zero (an overshoot of a few hundred ms after a backlog drained).
        """
        run = self._run
        assert run is not None
        # The window is the camera's last seconds of media, not what arrived in our last
        # seconds: after a stall with the frames delayed (a backlog), the frames before the
        # stall stay the least-delayed until 5 s of media have followed them; dropping them by
        # arrival time left only the backlog, and the line was slewed at full speed towards it.
        tb = float(self.tb)
        while self._arrivals and (dts - self._arrivals[0][1]) * tb > LEAD_WINDOW_SECONDS:
            self._arrivals.popleft()
        if not self._arrivals:
            return 0.0
        step = tb * run.base_rate
        earliest = min(arrival + (dts - x) * step for arrival, x in self._arrivals)
        return run.wall(dts) - earliest

    def _place(self, pts: int, dts: int, arrival: float, events: list[ClockEvent]) -> Placement:
        run = self._run
        assert run is not None
        w_dts = run.wall(dts)
        if self._last is not None:
            w_dts = max(w_dts, self._last[2] + float(self.tb))  # strictly increasing DTS
            if w_dts - self._last[2] > self.frame + GAP_SECONDS:
                events.append(ClockEvent("gap", w_dts - self._last[2] - self.frame, self._last[2] + self.frame))
        w_pts = max(w_dts, run.wall(pts))
        if self.epoch is None:
            self.epoch = w_dts
        self._arrivals.append((arrival, dts))
        self._last = (dts, arrival, w_dts)
        for event in events:
            if event not in self.events:
                self.events.append(event)
        out_dts = max(self._last_out_dts + 1, round((w_dts - self.epoch) / self.tb))
        out_pts = max(out_dts, round((w_pts - self.epoch) / self.tb))
        self._last_out_dts = out_dts
        self._end = max(self._end, w_pts + self.frame)
        return Placement(out_pts, out_dts, self.epoch + float(out_pts * self.tb), tuple(events))

    @property
    def last_wall(self) -> float | None:
        """Wall time just past the newest placed frame (for the next session's ``not_before``)."""
        return None if self._last is None else self._end
