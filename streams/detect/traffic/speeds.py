"""Speeds of confirmed vehicles per zone (calibrated cameras): the zone's recent speeds, which
vehicles crawl now, and where vehicles halted (remembered so that a stopped vehicle or debris
can be told from a vehicle that was seen arriving)."""

from __future__ import annotations

import numpy as np

from streams.detect.calibration import GroundPlane
from streams.detect.classify import Classifier
from streams.detect.traffic.lane_flow import MIN_MATCH, LaneProfile
from streams.detect.traffic.geometry import track_box
from streams.detect.traffic.zone import ZoneState
from streams.detect.tracker import Track
from streams.detect.traffic.wrong_way import road_direction

# A confirmed vehicle slower than this (km/h) has halted; where it halted is remembered this long (s).
HALT_KMH, HALT_MEMORY_SECONDS = 6.0, 120.0
HALTS_KEPT = 50


def watch_speeds(state: ZoneState, classifier: Classifier, tracks: list[Track], t: float, size: tuple[int, int]) -> None:
    """Note the speeds (km/h) of ``tracks`` in the zone at ``t``; forget what left the window
    (the zone's ``slowdown_seconds``; halts after ``HALT_MEMORY_SECONDS``)."""
    if not classifier.metric:
        return
    for track in tracks:
        # Queued vehicles merge into blobs whose tracks are new: a vehicle-sized blob followed
        # for a second counts for speed; halts need a confirmed vehicle.
        if not classifier.vehicle_blob(track.blob) or track.hits < 5 or track.blob.touches_border(size):
            continue  # (cut by the picture's edge, a blob's foot is not where it touches the road)
        speed = classifier.speed_kmh(track)
        if speed is None:
            continue
        state.speeds.append((t, track.id, speed))
        limit = state.zone.slowdown_kmh
        if limit is not None and speed < limit and classifier.vehicle(track) and (classifier.speed_kmh(track, 3.0) or 0.0) < limit:
            state.crawling.append((t, track.id, *track.ground[-1][1:]))
        # Halted: its place stands still (``drift_kmh``: a far foot that flips between two
        # pixel rows has step speeds of a crawl, but no drift).
        drift = classifier.drift_kmh(track, 1.5)
        if drift is not None and drift < HALT_KMH and classifier.vehicle(track):
            state.halts.append((t, track_box(track)))
    window = state.zone.slowdown_seconds
    while state.speeds and state.speeds[0][0] < t - window:
        state.speeds.popleft()
    while state.crawling and state.crawling[0][0] < t - window:
        state.crawling.popleft()
    while state.halts and (state.halts[0][0] < t - HALT_MEMORY_SECONDS or len(state.halts) > HALTS_KEPT):
        state.halts.popleft()


def watch_flow(state: ZoneState, classifier: Classifier, foreground: np.ndarray, mask: np.ndarray, t: float,
               size: tuple[int, int]) -> None:
    """Note the lane's speed (km/h) from its foreground profile at ``t`` (``lane_flow.py``),
    None when it holds too little or does not match; forget what left the window. Only for
    zones with a slowdown limit on a calibrated camera (``foreground`` and ``mask``: uint8,
    H x W)."""
    zone = state.zone
    if zone.slowdown_kmh is None or not isinstance(classifier.scale, GroundPlane):
        return
    if state.lane_size != size:
        flow = 0
        if zone.direction is not None:
            _, along = road_direction(zone.polygon, zone.direction, size, classifier)
            flow = (1 if along > 0 else -1) if abs(along) >= 0.5 else 0
        state.lane_size = size  # built once per picture size, also when it cannot be
        try:
            state.lane = LaneProfile(mask, classifier.scale, flow)
        except ValueError:
            state.lane = None  # a zone too thin to measure along the road
    if state.lane is None:
        return
    measured = state.lane.update(foreground, t)
    speed = measured[0] if measured is not None and measured[1] >= MIN_MATCH else None
    state.flow.append((t, speed))
    while state.flow and state.flow[0][0] < t - zone.slowdown_seconds:
        state.flow.popleft()
