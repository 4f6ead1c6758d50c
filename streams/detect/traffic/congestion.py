"""Congestion: foreground covers more than ``congestion_occupancy`` of the zone for
``congestion_seconds``; ends when below 80 % of it for half that time (at least ``end_seconds``)."""

from __future__ import annotations

from streams.detect.base import EventSignal
from streams.detect.traffic.zone import ZoneState

# Share of the threshold below which a congestion starts to end (hysteresis).
RELEASE = 0.8


def congestion(state: ZoneState, t: float, end_seconds: float) -> list[EventSignal]:
    """The zone's congestion signal at ``t`` (seconds), from its smoothed occupancy."""
    zone = state.zone
    if zone.congestion_occupancy is None:
        return []
    latch = state.congestion
    if not latch.active:
        latch.update(t, state.occupancy >= zone.congestion_occupancy)
    elif state.occupancy < RELEASE * zone.congestion_occupancy:
        state.congestion_off_since = state.congestion_off_since or t
        if t - state.congestion_off_since >= max(end_seconds, zone.congestion_seconds / 2):
            latch.reset()
            state.congestion_off_since = None
    else:
        state.congestion_off_since = None
    if not latch.active:
        return []
    return [EventSignal("congestion", zone.id, score=round(min(1.0, state.occupancy), 3), since=latch.onset,
                        details={"occupancy": round(state.occupancy, 3)})]


def near_congestion(state: ZoneState) -> bool:
    """Occupancy is within the hysteresis band of the congestion threshold, or above it."""
    limit = state.zone.congestion_occupancy
    return limit is not None and state.occupancy >= RELEASE * limit
