"""Debris (a fallen object): a small, low area standing ``debris_seconds`` on the road that no
vehicle brought, that is no part of a stopped or halted vehicle, nor a person standing, nor
the strip a moved shadow edge leaves (``classify.moved_edge``)."""

from __future__ import annotations

import numpy as np

from streams.detect.base import EventSignal
from streams.detect.classify import moved_edge
from streams.detect.traffic.context import Sight
from streams.detect.traffic.geometry import blob_box, fraction_box, grow, overlap, track_box
from streams.detect.traffic.standing import still_there
from streams.detect.traffic.zone import ZoneState
from streams.detect.tracker import Blob

# A track that travelled this far (m, or picture widths uncalibrated) was moving, not lying there.
MOVED = 3


def debris(state: ZoneState, sight: Sight, mask: np.ndarray) -> list[EventSignal]:
    """The zone's debris signal for this frame (``mask``: the zone, uint8 H x W)."""
    zone, t, classifier = state.zone, sight.t, sight.classifier
    if zone.debris_seconds is None:
        return []
    width, height = sight.frame.size
    picture, empty = sight.standing.background.picture, sight.standing.background.background

    def fallen(blob: Blob, region: np.ndarray) -> bool:
        if not classifier.debris_blob(blob) or blob.touches_border(sight.frame.size):
            return False
        # A building's shadow creeping across the road: where a passing vehicle kept the
        # background from following it, a strip between its old and new edge stays changed
        # and still, debris-sized (the gateways' false debris, docs/decisions.md 180).
        if picture is not None and empty is not None and moved_edge(picture, empty, region):
            return False
        box = blob_box(blob)
        around = grow(box, max(3, blob.h // 2))  # a vehicle splits into blobs: its parts lie close
        if state.stopped_box is not None and overlap(around, state.stopped_box) > 0:
            return False
        if any(overlap(around, halted) > 0.1 for _, halted in state.halts):
            return False  # where a vehicle halted: a part of it
        # Not part of a vehicle that stopped, nor a person standing.
        return not any(overlap(box, track_box(track)) > 0.1 and (classifier.vehicle(track) or track.travelled > MOVED)
                       for track in sight.tracker.tracks.values())

    found = sight.standing.find(mask, zone.debris_seconds, int(sight.traffic.object_min_area * width * height), fallen)
    kept = False
    if found is not None:
        blob, stood = found
        state.debris_box = blob_box(blob)
        if not state.debris.active:
            state.debris_since = t - stood
    elif state.debris.active and state.debris_box is not None:
        kept = still_there(sight.foreground, state.debris_box)
    if not state.debris.update(t, found is not None or kept) or state.debris_box is None:
        state.debris_box = None
        return []
    return [EventSignal("debris", zone.id, since=state.debris_since, box=fraction_box(state.debris_box, sight.frame))]
