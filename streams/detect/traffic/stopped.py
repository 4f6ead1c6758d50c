"""Stopped vehicle: a vehicle-sized area of the zone that has stood unchanged longer than the
zone's ``stopped_seconds`` (per-pixel standing age: robust to other vehicles passing or briefly
merging with it), brought there by a vehicle followed over ``vehicle_travel_m`` (calibrated
cameras), with an outline of its own (light on the road has none; ``standing.py``). Not raised
while the zone is congested or slowed: queues stand too."""

from __future__ import annotations

import numpy as np

from streams.detect.base import EventSignal
from streams.detect.traffic.context import Sight
from streams.detect.traffic.geometry import blob_box, fraction_box, overlap, track_box
from streams.detect.traffic.standing import still_there
from streams.detect.traffic.zone import ZoneState
from streams.detect.tracker import Blob

# A vehicle this fast (km/h) over 3 s is crawling in a queue, not stopped.
CRAWL_KMH = 6.0


def stopped(state: ZoneState, sight: Sight, mask: np.ndarray, congested: bool) -> list[EventSignal]:
    """The zone's stopped-vehicle signal for this frame (``mask``: the zone, uint8 H x W)."""
    zone, t, classifier = state.zone, sight.t, sight.classifier
    if zone.stopped_seconds is None:
        return []
    width, height = sight.frame.size
    found = None
    if not congested:
        share = 0.1 if classifier.metric else 0.5
        minimum = int(share * sight.traffic.vehicle_min_area * width * height)
        found = sight.standing.find(mask, zone.stopped_seconds, minimum,
                                    lambda blob, region: classifier.vehicle_blob(blob) and arrived(state, sight, blob)
                                    and not crawling(sight, blob))
    if found is not None:
        blob, stood = found
        state.stopped_box = blob_box(blob)
        if not state.stopped.active:
            state.stopped_since = t - stood
    kept = False
    if state.stopped.active and state.stopped_box is not None and not congested:
        kept = still_there(sight.foreground, state.stopped_box)
    if not state.stopped.update(t, found is not None or kept) or state.stopped_box is None:
        state.stopped_box = None
        return []
    return [EventSignal("stopped_vehicle", zone.id, since=state.stopped_since, box=fraction_box(state.stopped_box, sight.frame))]


def arrived(state: ZoneState, sight: Sight, blob: Blob) -> bool:
    """A confirmed vehicle drove to where ``blob`` stands (calibrated cameras; always true without)."""
    classifier = sight.classifier
    if not classifier.metric:
        return True
    box = blob_box(blob)
    for track in sight.tracker.tracks.values():
        if classifier.vehicle(track) and overlap(box, track_box(track)) > 0.3:
            return True
    return any(overlap(box, halted) > 0.3 for _, halted in state.halts)


def crawling(sight: Sight, blob: Blob) -> bool:
    """A vehicle over ``blob`` still moves at walking pace (its plain body looks unchanged)."""
    classifier = sight.classifier
    if not classifier.metric:
        return False
    box = blob_box(blob)
    for track in sight.tracker.tracks.values():
        if overlap(box, track_box(track)) > 0.3:
            speed = classifier.drift_kmh(track, window=3.0)
            if speed is not None and speed >= CRAWL_KMH:
                return True
    return False
