"""Follow moving blobs from frame to frame: a small IoU-then-distance tracker with track ids.

Blobs are matched to tracks by overlap with where each track is predicted to be (its box
moved by its velocity); blobs left over are matched by centroid distance, which still works
at 5 fps when a fast vehicle no longer overlaps its previous box. A track unseen for
``max_missed_seconds`` ends. Good enough for a few dozen blobs; no appearance model.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np


@dataclass(frozen=True, slots=True)
class Blob:
    x: int
    y: int
    w: int
    h: int
    area: int

    @property
    def centre(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y + self.h / 2)

    def touches_border(self, size: tuple[int, int], margin: int = 1) -> bool:
        width, height = size
        return self.x <= margin or self.y <= margin or self.x + self.w >= width - margin or self.y + self.h >= height - margin

    def grown(self, pixels: int) -> tuple[int, int, int, int]:
        return (self.x - pixels, self.y - pixels, self.x + self.w + pixels, self.y + self.h + pixels)


def find_blobs(mask: np.ndarray, min_area: int) -> list[Blob]:
    """Connected regions (8-connectivity) of a binary ``mask`` (uint8, H x W) of at least ``min_area`` pixels."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    return [
        Blob(int(x), int(y), int(w), int(h), int(area))
        for x, y, w, h, area in stats[1:count]
        if area >= min_area
    ]


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Track:
    id: int
    blob: Blob
    born: float
    last_seen: float
    history: deque[tuple[float, float, float, int]] = field(default_factory=lambda: deque(maxlen=64))  # (t, cx, cy, area)
    max_area: int = 0
    hits: int = 0
    # Filled by the traffic analytics when the camera is calibrated (or in picture fractions):
    ground: deque[tuple[float, float, float]] = field(default_factory=lambda: deque(maxlen=64))  # (t, x, y) on the road
    sizes: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=64))  # (width, height) in metres
    travelled: float = 0.0  # farthest it has been from where it was first seen on the road
    origin: tuple[float, float] | None = None

    def place(self, t: float, x: float, y: float) -> None:
        """Record where it touches the road at ``t``. Travel is the farthest distance from the
        first position, so jitter in place does not add up to a journey."""
        if self.origin is None:
            self.origin = (x, y)
        self.travelled = max(self.travelled, float(np.hypot(x - self.origin[0], y - self.origin[1])))
        self.ground.append((t, x, y))

    def ground_velocity(self, window: float = 1.5) -> tuple[float, float] | None:
        """Road velocity (units per second) over the last ``window`` seconds, None if too short."""
        if len(self.ground) < 3:
            return None
        t1, x1, y1 = self.ground[-1]
        t0, x0, y0 = next(((t, x, y) for t, x, y in self.ground if t >= t1 - window), self.ground[0])
        if t1 - t0 < 0.6 * window:
            return None
        return (x1 - x0) / (t1 - t0), (y1 - y0) / (t1 - t0)

    def median_size(self) -> tuple[float, float] | None:
        if not self.sizes:
            return None
        widths, heights = zip(*self.sizes)
        return float(np.median(widths)), float(np.median(heights))

    def add(self, blob: Blob, t: float) -> None:
        self.blob = blob
        self.last_seen = t
        self.hits += 1
        self.max_area = max(self.max_area, blob.area)
        self.history.append((t, *blob.centre, blob.area))

    def velocity(self, window: float = 1.0) -> tuple[float, float]:
        """Pixels per second over the last ``window`` seconds."""
        if len(self.history) < 2:
            return (0.0, 0.0)
        t1, x1, y1, _ = self.history[-1]
        t0, x0, y0, _ = next(((t, x, y, a) for t, x, y, a in self.history if t >= t1 - window), self.history[0])
        if t1 - t0 <= 0:
            return (0.0, 0.0)
        return ((x1 - x0) / (t1 - t0), (y1 - y0) / (t1 - t0))

    def steps(self, since: float) -> list[tuple[float, float, float]]:
        """(dt, dx, dy) between consecutive sightings after ``since``."""
        points = [p for p in self.history if p[0] >= since]
        return [(b[0] - a[0], b[1] - a[1], b[2] - a[2]) for a, b in zip(points, points[1:])]

    def predicted_box(self, t: float) -> tuple[float, float, float, float]:
        vx, vy = self.velocity()
        dt = t - self.last_seen
        b = self.blob
        return (b.x + vx * dt, b.y + vy * dt, b.x + b.w + vx * dt, b.y + b.h + vy * dt)


class Tracker:
    def __init__(self, max_missed_seconds: float = 0.8, gate: float = 0.8) -> None:
        self.max_missed_seconds = max_missed_seconds
        self.gate = gate  # how far (in blob sizes) a centroid may jump between frames
        self.tracks: dict[int, Track] = {}
        self._ids = itertools.count(1)

    def reset(self) -> None:
        self.tracks.clear()

    def update(self, blobs: list[Blob], t: float) -> list[Track]:
        """Match ``blobs`` seen at ``t``; returns the tracks seen in this frame."""
        tracks = list(self.tracks.values())
        predicted = {track.id: track.predicted_box(t) for track in tracks}
        pairs = []
        for ti, track in enumerate(tracks):
            for bi, blob in enumerate(blobs):
                overlap = _iou(predicted[track.id], (blob.x, blob.y, blob.x + blob.w, blob.y + blob.h))
                if overlap > 0.05:
                    pairs.append((-overlap, ti, bi))
        matched_tracks: set[int] = set()
        matched_blobs: set[int] = set()
        for _, ti, bi in sorted(pairs):
            if ti not in matched_tracks and bi not in matched_blobs:
                matched_tracks.add(ti)
                matched_blobs.add(bi)
                tracks[ti].add(blobs[bi], t)
        pairs = []
        for ti, track in enumerate(tracks):
            if ti in matched_tracks:
                continue
            px1, py1, px2, py2 = predicted[track.id]
            pcx, pcy = (px1 + px2) / 2, (py1 + py2) / 2
            for bi, blob in enumerate(blobs):
                if bi in matched_blobs:
                    continue
                cx, cy = blob.centre
                distance = ((cx - pcx) ** 2 + (cy - pcy) ** 2) ** 0.5
                limit = self.gate * max(track.blob.w, track.blob.h, blob.w, blob.h)
                if distance <= limit:
                    pairs.append((distance, ti, bi))
        for _, ti, bi in sorted(pairs):
            if ti not in matched_tracks and bi not in matched_blobs:
                matched_tracks.add(ti)
                matched_blobs.add(bi)
                tracks[ti].add(blobs[bi], t)
        for bi, blob in enumerate(blobs):
            if bi not in matched_blobs:
                track = Track(next(self._ids), blob, born=t, last_seen=t)
                track.add(blob, t)
                self.tracks[track.id] = track
        for track in list(self.tracks.values()):
            if t - track.last_seen > self.max_missed_seconds:
                del self.tracks[track.id]
        return [track for track in self.tracks.values() if track.last_seen == t]
