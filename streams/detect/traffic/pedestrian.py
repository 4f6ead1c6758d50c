"""Pedestrian: tracks confirmed as persons (size, shape, walking pace; ``classify.py``) present
``pedestrian_seconds`` in a vehicle-only zone, away from vehicles; the event counts them."""

from __future__ import annotations

import numpy as np

from streams.detect.base import EventSignal
from streams.detect.traffic.context import Sight
from streams.detect.traffic.geometry import fraction_box, near, track_box
from streams.detect.traffic.zone import ZoneState
from streams.detect.tracker import Track


def pedestrian(state: ZoneState, sight: Sight, tracks: list[Track]) -> list[EventSignal]:
    """The zone's pedestrian signal for this frame; ``tracks``: those whose foot is in the zone."""
    zone, t, frame = state.zone, sight.t, sight.frame
    if not zone.vehicle_only:
        return []
    people = []
    for track in tracks:
        blob = track.blob
        if not sight.classifier.person(track, t) or blob.touches_border(frame.size):
            continue
        if any(near(blob, vehicle, max(3, vehicle.h // 3)) for vehicle in sight.vehicles if vehicle != blob):
            continue  # a fragment of a vehicle, not something on its own
        region = np.zeros(frame.array.shape, np.uint8)
        region[blob.y : blob.y + blob.h, blob.x : blob.x + blob.w] = 255
        if sight.standing.is_ghost(region):
            # The trace of something that was in the background when it was learned.
            sight.standing.absorb(region)
            continue
        people.append(track)
    if people:
        state.pedestrian_track = people[0]
        state.pedestrian_count = len(people)
    if not state.pedestrian.update(t, bool(people)):
        return []
    shown = state.pedestrian_track
    details = {"count": state.pedestrian_count}
    if shown:
        details["track"] = shown.id
    return [EventSignal("pedestrian", zone.id, since=shown.born if shown else None,
                        box=fraction_box(track_box(shown), frame) if shown else None, details=details)]
