"""Tunnel and road analytics per zone: stopped vehicle, wrong-way, pedestrian, congestion.

All four work on the foreground of a long-term reference background (``background.py``), so
a vehicle that stops stays visible. Blob size tells vehicles (``vehicle_min_area``) from
pedestrians and objects (``object_min_area`` up to it).

- stopped vehicle: a vehicle-sized area of the zone that has stood unchanged longer than the
  zone's ``stopped_seconds`` (per-pixel standing age: robust to other vehicles passing or
  briefly merging with it). An area that appears standing where something has just left
  (a "ghost" of an old background) is recognised by its edges being in the background, not in
  the picture, and learned away. Not raised while the zone is congested: queues stand too.
- wrong-way: a tracked vehicle that moved against the zone's direction by ``wrong_way_distance``
  within 1.5 s, most steps against it. Not judged while congested (merged blobs jump about).
- pedestrian: a tracked small blob (never vehicle-sized, off the picture's border, away from
  vehicles) present ``pedestrian_seconds`` in a vehicle-only zone.
- congestion: foreground covers more than ``congestion_occupancy`` of the zone for
  ``congestion_seconds``; ends when below 80 % of it for half that time.
"""

from __future__ import annotations

import cv2
import numpy as np

from streams.detect.background import ReferenceBackground
from streams.detect.base import Detector, EventSignal, Frame
from streams.detect.latch import Latch
from streams.detect.tracker import Blob, Track, Tracker, find_blobs
from streams.detect.zones import ZoneMasks
from vms.config.detection import CameraDetection, ZoneConfig

WRONG_WAY_WINDOW_SECONDS = 1.5
STANDING_SECONDS = 1.0
GHOST_SWEEP_SECONDS = 1.0
# Share of a stopped vehicle's box that must stay foreground for it to count as still there.
STILL_THERE = 0.5
OCCUPANCY_SMOOTHING = 0.4


class _ZoneState:
    def __init__(self, zone: ZoneConfig, end_seconds: float) -> None:
        self.zone = zone
        self.occupancy = 0.0
        self.congestion = Latch(on_seconds=zone.congestion_seconds)
        self.congestion_off_since: float | None = None
        self.stopped = Latch(off_seconds=end_seconds)
        self.stopped_box: tuple[int, int, int, int] | None = None
        self.stopped_since: float | None = None
        self.wrong_way = Latch(off_seconds=end_seconds)
        self.wrong_way_track: Track | None = None
        self.pedestrian = Latch(off_seconds=end_seconds)
        self.pedestrian_track: Track | None = None

    def reset(self) -> None:
        self.__init__(self.zone, self.stopped.off_seconds)


class TrafficAnalytics(Detector):
    name = "traffic"

    def __init__(self, config: CameraDetection) -> None:
        self.config = config
        self.traffic = config.traffic
        self.masks = ZoneMasks(config)
        self.background = ReferenceBackground(config.traffic.difference_threshold, config.traffic.absorb_seconds)
        self.tracker = Tracker()
        self.zones = [_ZoneState(zone, config.traffic.end_seconds) for zone in config.zones if _has_rules(zone)]
        self._swept_at = 0.0

    def on_gap(self) -> None:
        self.background.reset()
        self.tracker.reset()
        for state in self.zones:
            state.reset()

    def process(self, frame: Frame) -> list[EventSignal]:
        if not self.zones:
            return []
        t = frame.wall_time
        foreground = self.background.apply(frame.array, t)
        if foreground is None:
            return []
        valid, zone_masks = self.masks.at(frame.size)
        foreground = cv2.bitwise_and(foreground, valid)
        area = frame.size[0] * frame.size[1]
        vehicle_area = self.traffic.vehicle_min_area * area
        if t - self._swept_at >= GHOST_SWEEP_SECONDS:
            self._swept_at = t
            self._sweep_ghosts(max(4, int(self.traffic.object_min_area * area)))
            foreground = cv2.bitwise_and(self.background.foreground, valid)
        blobs = find_blobs(foreground, max(4, int(self.traffic.object_min_area * area)))
        tracks = self.tracker.update(blobs, t)
        vehicles = [b for b in blobs if b.area >= vehicle_area]
        signals: list[EventSignal] = []
        for state in self.zones:
            mask = zone_masks[state.zone.id]
            zone_pixels = max(1, cv2.countNonZero(mask))
            occupancy = cv2.countNonZero(cv2.bitwise_and(foreground, mask)) / zone_pixels
            state.occupancy += OCCUPANCY_SMOOTHING * (occupancy - state.occupancy)
            signals += self._congestion(state, t)
            congested = state.zone.congestion_occupancy is not None and state.occupancy >= 0.8 * state.zone.congestion_occupancy
            signals += self._stopped(state, frame, foreground, mask, congested)
            signals += self._wrong_way(state, frame, tracks, mask, vehicle_area, congested)
            signals += self._pedestrian(state, frame, tracks, mask, vehicle_area, vehicles)
        return signals

    # -- rules ----------------------------------------------------------------------------

    def _congestion(self, state: _ZoneState, t: float) -> list[EventSignal]:
        zone = state.zone
        if zone.congestion_occupancy is None:
            return []
        latch = state.congestion
        if not latch.active:
            latch.update(t, state.occupancy >= zone.congestion_occupancy)
        elif state.occupancy < 0.8 * zone.congestion_occupancy:
            state.congestion_off_since = state.congestion_off_since or t
            if t - state.congestion_off_since >= max(self.traffic.end_seconds, zone.congestion_seconds / 2):
                latch.reset()
                state.congestion_off_since = None
        else:
            state.congestion_off_since = None
        if not latch.active:
            return []
        return [EventSignal("congestion", zone.id, score=round(min(1.0, state.occupancy), 3), since=latch.onset,
                            details={"occupancy": round(state.occupancy, 3)})]

    def _stopped(self, state: _ZoneState, frame: Frame, foreground: np.ndarray, mask: np.ndarray, congested: bool) -> list[EventSignal]:
        zone, t = state.zone, frame.wall_time
        if zone.stopped_seconds is None:
            return []
        width, height = frame.size
        found = None
        if not congested:
            # Standing areas, then the typical (median) age of each: a few pixels of a plain
            # body look unchanged already while the vehicle is still rolling to a stop.
            age = self.background.age
            standing = ((age >= min(STANDING_SECONDS, zone.stopped_seconds)) & (mask > 0)).astype(np.uint8) * 255
            minimum = 0.5 * self.traffic.vehicle_min_area * width * height
            for blob in sorted(find_blobs(standing, int(minimum)), key=lambda b: -b.area):
                region = np.zeros_like(standing)
                region[blob.y : blob.y + blob.h, blob.x : blob.x + blob.w] = standing[blob.y : blob.y + blob.h, blob.x : blob.x + blob.w]
                stood = float(np.median(age[region > 0]))
                if stood < zone.stopped_seconds:
                    continue
                if self._is_ghost(region):
                    self.background.absorb(cv2.dilate(region, np.ones((5, 5), np.uint8)))
                    continue
                found = (blob, t - stood)
                break
        if found is not None:
            blob, since = found
            state.stopped_box = (blob.x, blob.y, blob.x + blob.w, blob.y + blob.h)
            if not state.stopped.active:
                state.stopped_since = since
        still_there = False
        if state.stopped.active and state.stopped_box is not None and not congested:
            x1, y1, x2, y2 = state.stopped_box
            box = foreground[y1:y2, x1:x2]
            still_there = box.size > 0 and cv2.countNonZero(box) >= STILL_THERE * box.size
        if not state.stopped.update(t, found is not None or still_there):
            state.stopped_box = None
            return []
        x1, y1, x2, y2 = state.stopped_box
        return [EventSignal("stopped_vehicle", zone.id, since=state.stopped_since,
                            box=(x1 / width, y1 / height, x2 / width, y2 / height))]

    def _sweep_ghosts(self, min_area: int) -> None:
        """Learn away standing areas that are traces of what has left, not things that arrived
        (e.g. vehicles that were in the picture while the background was learned)."""
        standing = (self.background.age >= STANDING_SECONDS).astype(np.uint8) * 255
        for blob in find_blobs(standing, min_area):
            region = np.zeros_like(standing)
            box = (slice(blob.y, blob.y + blob.h), slice(blob.x, blob.x + blob.w))
            region[box] = standing[box]
            if self._is_ghost(region):
                self.background.absorb(cv2.dilate(region, np.ones((5, 5), np.uint8)))

    def _is_ghost(self, region: np.ndarray) -> bool:
        """True when the region's outline has its edges in the background, not in the picture:
        something that was there has left, nothing has arrived."""
        outline = cv2.morphologyEx(region, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
        if not outline.any():
            return False

        def edges(image: np.ndarray) -> float:
            gx = cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3)
            gy = cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=3)
            return float(cv2.magnitude(gx, gy)[outline].mean())

        return edges(self.background.picture) < 0.7 * edges(self.background.background)

    def _wrong_way(self, state: _ZoneState, frame: Frame, tracks: list[Track], mask: np.ndarray,
                   vehicle_area: float, congested: bool) -> list[EventSignal]:
        zone, t = state.zone, frame.wall_time
        if zone.direction is None:
            return []
        width = frame.size[0]
        dx, dy = zone.direction
        culprit = None
        if not congested:
            for track in tracks:
                if track.max_area < 0.5 * vehicle_area or not _inside(track.blob, mask):
                    continue
                steps = [s for s in track.steps(t - WRONG_WAY_WINDOW_SECONDS) if s[0] > 0]
                if len(steps) < 3:
                    continue
                along = [(sx * dx + sy * dy) for _, sx, sy in steps if abs(sx) + abs(sy) < 0.2 * width]
                backwards = sum(1 for a in along if a < 0)
                if sum(along) <= -self.traffic.wrong_way_distance * width and backwards >= 0.7 * len(steps):
                    culprit = track
                    break
        if culprit is not None:
            state.wrong_way_track = culprit
        if not state.wrong_way.update(t, culprit is not None):
            return []
        track = state.wrong_way_track
        return [EventSignal("wrong_way", zone.id, since=track.born if track else None, box=_box(track, frame) if track else None,
                            details={"track": track.id} if track else {})]

    def _pedestrian(self, state: _ZoneState, frame: Frame, tracks: list[Track], mask: np.ndarray,
                    vehicle_area: float, vehicles: list[Blob]) -> list[EventSignal]:
        zone, t = state.zone, frame.wall_time
        if not zone.vehicle_only:
            return []
        found = None
        for track in tracks:
            blob = track.blob
            if track.max_area >= vehicle_area or t - track.born < self.traffic.pedestrian_seconds:
                continue
            if blob.touches_border(frame.size) or not _inside(blob, mask):
                continue
            if any(_near(blob, vehicle, max(3, vehicle.h // 3)) for vehicle in vehicles):
                continue  # a fragment of a vehicle, not something on its own
            region = np.zeros(frame.array.shape, np.uint8)
            region[blob.y : blob.y + blob.h, blob.x : blob.x + blob.w] = 255
            if self._is_ghost(region):
                # The trace of something that was in the background when it was learned.
                self.background.absorb(cv2.dilate(region, np.ones((5, 5), np.uint8)))
                continue
            found = track
            break
        if found is not None:
            state.pedestrian_track = found
        if not state.pedestrian.update(t, found is not None):
            return []
        track = state.pedestrian_track
        return [EventSignal("pedestrian", zone.id, since=track.born if track else None, box=_box(track, frame) if track else None,
                            details={"track": track.id} if track else {})]


def _has_rules(zone: ZoneConfig) -> bool:
    return bool(zone.direction or zone.vehicle_only or zone.stopped_seconds or zone.congestion_occupancy)


def _inside(blob: Blob, mask: np.ndarray) -> bool:
    cx, cy = blob.centre
    return mask[min(int(cy), mask.shape[0] - 1), min(int(cx), mask.shape[1] - 1)] > 0


def _near(a: Blob, b: Blob, margin: int) -> bool:
    ax1, ay1, ax2, ay2 = a.grown(margin)
    return ax1 < b.x + b.w and b.x < ax2 and ay1 < b.y + b.h and b.y < ay2


def _box(track: Track, frame: Frame) -> tuple[float, float, float, float]:
    width, height = frame.size
    b = track.blob
    return (b.x / width, b.y / height, (b.x + b.w) / width, (b.y + b.h) / height)
