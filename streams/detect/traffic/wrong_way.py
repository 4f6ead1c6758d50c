"""Wrong way: a confirmed vehicle that moved against the zone's direction by ``wrong_way_m``
(or ``wrong_way_distance`` of the picture width uncalibrated) within 3 s, most of its steps
against it, with a steady size (a track hopping between blobs of other sizes is not one
vehicle). Not raised while the zone is congested (queues shuffle)."""

from __future__ import annotations

from streams.detect.base import EventSignal
from streams.detect.classify import Classifier
from streams.detect.traffic.context import Sight
from streams.detect.traffic.geometry import fraction_box, track_box
from streams.detect.traffic.zone import ZoneState
from streams.detect.tracker import Track

WRONG_WAY_WINDOW_SECONDS = 3.0
# A step longer than this (m, or picture widths uncalibrated) is a leap to another blob.
JUMP_M, JUMP_WIDTHS = 15.0, 0.2
# Share of the steps that must go against the zone's direction.
BACKWARDS_SHARE = 0.7


def wrong_way(state: ZoneState, sight: Sight, tracks: list[Track], congested: bool) -> list[EventSignal]:
    """The zone's wrong-way signal for this frame; ``tracks``: those whose foot is in the zone."""
    zone, t, classifier = state.zone, sight.t, sight.classifier
    if zone.direction is None:
        return []
    if state.direction is None:
        state.direction = road_direction(zone.polygon, zone.direction, sight.frame.size, classifier)
    dx, dy = state.direction
    distance = sight.traffic.wrong_way_m if classifier.metric else sight.traffic.wrong_way_distance
    culprit = None
    if not congested:
        for track in tracks:
            if not classifier.vehicle(track):
                continue
            points = [p for p in track.ground if p[0] >= t - WRONG_WAY_WINDOW_SECONDS]
            if len(points) < (6 if classifier.metric else 4) or not steady_size(track, len(points)):
                continue  # too short, or the track hopped between blobs of other sizes
            jump = JUMP_M if classifier.metric else JUMP_WIDTHS
            along = [(b[1] - a[1]) * dx + (b[2] - a[2]) * dy for a, b in zip(points, points[1:])
                     if abs(b[1] - a[1]) + abs(b[2] - a[2]) < jump]
            backwards = sum(1 for a in along if a < 0)
            if sum(along) <= -distance and backwards >= BACKWARDS_SHARE * len(along):
                culprit = track
                break
    if culprit is not None:
        state.wrong_way_track = culprit
    if not state.wrong_way.update(t, culprit is not None):
        return []
    shown = state.wrong_way_track
    return [EventSignal("wrong_way", zone.id, since=shown.born if shown else None,
                        box=fraction_box(track_box(shown), sight.frame) if shown else None,
                        details={"track": shown.id} if shown else {})]


def road_direction(polygon: list[tuple[float, float]], direction: tuple[float, float], size: tuple[int, int],
                   classifier: Classifier) -> tuple[float, float]:
    """The zone's direction of travel (drawn on the picture) as a unit direction on the road."""
    width, height = size
    cx = sum(x for x, _ in polygon) / len(polygon) * width
    cy = sum(y for _, y in polygon) / len(polygon) * height
    return classifier.scale.direction(cx, cy, direction[0], direction[1])


def steady_size(track: Track, last: int) -> bool:
    """The track's last ``last`` widths in metres stay within a factor 1.6 (always true
    uncalibrated: pixel sizes change with distance and at the picture's edge)."""
    if not track.sizes:
        return True
    widths = [w for w, _ in list(track.sizes)[-last:]]
    return bool(max(widths) <= 1.6 * max(min(widths), 1e-6))
