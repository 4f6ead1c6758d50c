"""What a blob or track is: vehicle, person, debris, or a trick of the light.

With a calibrated camera (``GroundPlane``) the tests are physical: a vehicle is 1.3-3.8 m wide
and at least 0.9 m tall where it touches the road and has been followed over
``vehicle_travel_m`` metres; a person is 1.0-2.4 m tall, at most 1.2 m wide, taller than wide
and slower than ``person_max_kmh``; debris is small and low. A car 50 m away is small in
pixels but still 1.8 m wide. Without calibration the old pixel-area tests apply (areas as
fractions of the picture), which is all an uncalibrated camera can do.

Light is told from things by the picture itself: a thing brings its own outline (sharp edges
along the border of the changed area that the background does not have), light keeps the
structure that was there (the picture inside correlates with the background).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from streams.detect.calibration import GroundPlane, PixelScale
from streams.detect.tracker import Blob, Track
from vms.config.detection import TrafficConfig

# Correlation with the background above which a changed area is the same surface, differently lit.
SAME_SURFACE = 0.6
# Mean edge strength (grey levels per pixel) along an outline that makes it an object's outline.
OUTLINE_EDGE = 10.0
# Share of a changed area's outline that lies on an edge the background has and the picture
# has lost, from which on the area is an edge that moved (a shadow's), not a thing that arrived.
# Moved shadow edges at gateways measure 0.39-0.51, the fallen objects of the debris clips
# 0-0.03 (docs/decisions.md 180).
MOVED_EDGE_SHARE = 0.25


class Classifier:
    def __init__(self, traffic: TrafficConfig, scale: GroundPlane | PixelScale, size: tuple[int, int]) -> None:
        self.traffic = traffic
        self.scale = scale
        self.area = size[0] * size[1]

    @property
    def metric(self) -> bool:
        return self.scale.metric

    def vehicle_blob(self, blob: Blob) -> bool:
        if not self.metric:
            return blob.area >= 0.5 * self.traffic.vehicle_min_area * self.area
        if not isinstance(self.scale, GroundPlane):
            return blob.area >= 0.5 * self.traffic.vehicle_min_area * self.area
        width, height = self.scale.size(blob)
        low, high = self.traffic.vehicle_width_m
        return low <= width <= high and height >= self.traffic.vehicle_min_height_m

    def debris_blob(self, blob: Blob) -> bool:
        if not isinstance(self.scale, GroundPlane):
            return self.traffic.object_min_area * self.area <= blob.area < self.traffic.vehicle_min_area * self.area
        width, height = self.scale.size(blob)
        low, high = self.traffic.debris_width_m
        return low <= width <= high and height <= self.traffic.debris_max_height_m

    def vehicle(self, track: Track) -> bool:
        """A confirmed vehicle: vehicle-sized over its life and followed over a distance."""
        if not self.metric:
            return track.max_area >= 0.5 * self.traffic.vehicle_min_area * self.area
        size = track.median_size()
        if size is None:
            return False
        width, height = size
        low, high = self.traffic.vehicle_width_m
        return low <= width <= high and height >= self.traffic.vehicle_min_height_m and track.travelled >= self.traffic.vehicle_travel_m

    def person(self, track: Track, t: float) -> bool:
        """A confirmed person: person-sized and -shaped, walking pace, seen long enough."""
        if t - track.born < self.traffic.pedestrian_seconds:
            return False
        if not self.metric:
            return track.max_area < self.traffic.vehicle_min_area * self.area
        size = track.median_size()
        if len(track.sizes) < 5 or size is None:
            return False
        width, height = size
        low, high = self.traffic.person_height_m
        if not (low <= height <= high and width <= self.traffic.person_max_width_m and height >= 1.3 * width):
            return False
        speed = self.speed_kmh(track)
        return speed is not None and speed <= self.traffic.person_max_kmh

    def speed_kmh(self, track: Track, window: float = 1.5) -> float | None:
        """Median speed of the track's steps over ``window`` seconds: a hop to another blob is
        one odd step among several, and jitter of the foot averages out over a step."""
        if not self.metric:
            return None
        t1 = track.ground[-1][0] if track.ground else 0.0
        points = [p for p in track.ground if p[0] >= t1 - window]
        steps = [math.hypot(b[1] - a[1], b[2] - a[2]) / (b[0] - a[0]) for a, b in zip(points, points[1:]) if b[0] > a[0]]
        if len(steps) < 3:
            return None
        return float(np.median(steps)) * 3.6

    def drift_kmh(self, track: Track, window: float = 3.0) -> float | None:
        """How fast the track's place on the road changes over ``window`` seconds: on each road
        axis the median of the slopes between every two of its positions (Theil-Sen); None
        below 4 positions. This, not ``speed_kmh``, tells a standing vehicle from a crawling one.

        The foot of a blob lies on a pixel row, and at 45 m one row is 1.5 m of road: a stopped
        car whose foot flips between two rows has steps of 1.5 m per 0.2 s frame, and the median
        of their lengths reads 27 km/h however still it stands (this hid stopped vehicles in
        the tunnel's far half). Slopes between positions a second or more apart see a flip as a
        fraction of that, and flips back and forth cancel in the median, their slopes having
        both signs. (``speed_kmh`` keeps the step lengths for the zone's speeds: their upward
        bias in the far half is what slowdown's threshold was set against.)"""
        if not self.metric or not track.ground:
            return None
        t1 = track.ground[-1][0]
        points = np.asarray([p for p in track.ground if p[0] >= t1 - window], dtype=np.float64)
        if len(points) < 4:
            return None
        first, second = np.triu_indices(len(points), k=1)
        dt = points[second, 0] - points[first, 0]
        keep = dt > 0
        if not keep.any():
            return None
        dt = dt[keep]
        vx = np.median((points[second, 1] - points[first, 1])[keep] / dt)
        vy = np.median((points[second, 2] - points[first, 2])[keep] / dt)
        return float(math.hypot(vx, vy)) * 3.6


def same_surface(picture: np.ndarray, background: np.ndarray, region: np.ndarray) -> bool:
    """True when the changed ``region`` (uint8 mask) is the background's surface under other
    light: no new outline, and the picture inside correlates with the background."""
    outline = cv2.morphologyEx(region, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    if outline.any():
        now, before = _edges(picture)[outline].mean(), _edges(background)[outline].mean()
        if now >= OUTLINE_EDGE and now >= 1.5 * before:
            return False  # something with its own outline stands there
    inside = region > 0
    a, b = picture[inside].astype(np.float32), background[inside].astype(np.float32)
    if a.size < 8 or b.std() < 3:
        # A flat surface has no structure to correlate: light leaves it flat, a thing brings
        # shading (its faces) or an outline of its own.
        flat = a.size < 8 or a.std() < max(4.0, 2 * b.std())
        return flat and (not outline.any() or _edges(picture)[outline].mean() < OUTLINE_EDGE)
    correlation = float(((a - a.mean()) * (b - b.mean())).mean() / (a.std() * b.std() + 1e-6))
    return correlation >= SAME_SURFACE


def moved_edge(picture: np.ndarray, background: np.ndarray, region: np.ndarray) -> bool:
    """True when a good part (``MOVED_EDGE_SHARE``) of the changed ``region``'s (uint8 mask)
    outline lies on an edge the background has and the picture has lost: the area lies between
    where an edge was and where it is now (a building's shadow creeping across the road), so
    one side of it is the old edge, gone, and the other the new one. A thing that arrives
    brings an outline of its own all round and takes no edge away but where it covers one
    (a marking it lies across: a few outline pixels). ``picture``, ``background``: float32
    or uint8 grey, the same shape as ``region``."""
    outline = cv2.morphologyEx(region, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    if not outline.any():
        return False
    now, before = _edges(picture)[outline], _edges(background)[outline]
    lost = (before >= OUTLINE_EDGE) & (now < 0.7 * before)
    return float(lost.mean()) >= MOVED_EDGE_SHARE


def _edges(image: np.ndarray) -> np.ndarray:
    gx = cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=3)
    return cv2.magnitude(gx, gy) / 4  # Sobel 3x3 weighs a unit step by 4
