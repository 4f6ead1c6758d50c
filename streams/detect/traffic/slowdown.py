"""Slowdown (calibrated cameras): a queue, not one stopped vehicle. Two or more vehicles some
metres apart crawl within ``slowdown_seconds``, and the zone's median speed over that window
is below ``slowdown_kmh``."""

from __future__ import annotations

import numpy as np

from streams.detect.base import EventSignal
from streams.detect.classify import Classifier
from streams.detect.traffic.zone import ZoneState

# Crawling vehicles at least this far apart (m) are two vehicles of a queue, not one seen twice.
QUEUE_SPACING_M = 5.0
# To hide a stopped vehicle as "part of a queue", each of two crawling tracks must have crawled
# this long (s): a fragment of one braking vehicle (its roof split from its body, whose foot
# then lies 15 m farther) crawls for a frame or two. (Slowdown itself still counts short
# tracks: queued vehicles merge and their tracks break; requiring it there lost 2 of 4 tunnel
# slowdowns on seeds 100-103.)
QUEUE_CRAWL_SECONDS = 1.0
# The lane's own speed (``lane_flow.py``, no tracks needed) says "slowed" when it was measured
# in this share of the window's frames (at least FLOW_MIN_FRAMES of them) and its median lies
# between MOVING_KMH and the limit. Below MOVING_KMH the lane stands: a stopped vehicle is the
# stopped rule's, and a queue gets there crawling.
FLOW_MEASURED, FLOW_MIN_FRAMES = 0.5, 5
MOVING_KMH = 3.0


def slowdown(state: ZoneState, classifier: Classifier, t: float) -> list[EventSignal]:
    """The zone's slowdown signal at ``t``, from what ``watch_speeds`` noted."""
    zone = state.zone
    if zone.slowdown_kmh is None or not classifier.metric:
        return []
    speeds = [speed for _, _, speed in state.speeds]
    apart = any(a[1] != b[1] and np.hypot(a[2] - b[2], a[3] - b[3]) >= QUEUE_SPACING_M
                for a in state.crawling for b in state.crawling)
    slow = apart and bool(speeds) and float(np.median(speeds)) < zone.slowdown_kmh
    lane = lane_crawl(state)
    if not state.slowdown.update(t, slow or lane is not None):
        return []
    median = round(float(np.median(speeds)), 1) if speeds else None
    if lane is not None and (median is None or not slow):
        median = round(lane, 1)
    return [EventSignal("slowdown", zone.id, since=state.slowdown.onset,
                        details={"speed_kmh": median, "vehicles": len({i for _, i, _ in state.speeds})})]


def lane_crawl(state: ZoneState) -> float | None:
    """The lane's median speed (km/h) over the window from its foreground profile
    (``watch_flow``) when the lane crawls: measured in at least ``FLOW_MEASURED`` of the
    window's frames, and between ``MOVING_KMH`` and the zone's ``slowdown_kmh``; else None."""
    limit = state.zone.slowdown_kmh
    if limit is None or len(state.flow) < FLOW_MIN_FRAMES:
        return None
    measured = [speed for _, speed in state.flow if speed is not None]
    if len(measured) < FLOW_MEASURED * len(state.flow):
        return None
    median = float(np.median(measured))
    return median if MOVING_KMH <= median < limit else None


def queued(state: ZoneState) -> list[tuple[float, int, float, float]]:
    """The zone's crawling notes (t, track id, x, y) of tracks that crawled at least
    ``QUEUE_CRAWL_SECONDS`` in the window."""
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    for t, track, _, _ in state.crawling:
        first.setdefault(track, t)
        last[track] = t
    return [c for c in state.crawling if last[c[1]] - first[c[1]] >= QUEUE_CRAWL_SECONDS]


def in_queue(state: ZoneState) -> bool:
    """A queue stands by nature: slowed down, or two vehicles (``queued``) crawling in the window."""
    return state.slowdown.active or len({c[1] for c in queued(state)}) >= 2
