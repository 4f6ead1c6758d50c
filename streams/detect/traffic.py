"""Tunnel and road analytics per zone: stopped vehicle, wrong way, pedestrian, congestion,
slowdown, debris.

All work on the foreground of a long-term reference background (``background.py``), so a
vehicle that stops stays visible. What a blob is comes from ``classify.py``: in metres with a
calibrated camera, in pixel areas without.

- stopped vehicle: a vehicle-sized area of the zone that has stood unchanged longer than the
  zone's ``stopped_seconds`` (per-pixel standing age: robust to other vehicles passing or
  briefly merging with it), brought there by a vehicle followed over ``vehicle_travel_m``
  (calibrated cameras), with an outline of its own (light on the road has none). An area that
  appears where something has just left (a "ghost") or that is the same surface under other
  light is learned away. Not raised while the zone is congested or slowed: queues stand too.
- debris: a small, low area standing ``debris_seconds`` that nothing drove into.
- wrong way: a confirmed vehicle that moved against the zone's direction by ``wrong_way_m``
  (or ``wrong_way_distance`` of the width uncalibrated) within 3 s, most steps against it.
- pedestrian: a track confirmed as a person (size, shape, walking pace) present
  ``pedestrian_seconds`` in a vehicle-only zone, away from vehicles; the event counts them.
- slowdown: the median speed of vehicles in the zone over ``slowdown_seconds`` below
  ``slowdown_kmh`` (at least two vehicles; calibrated cameras only).
- congestion: foreground covers more than ``congestion_occupancy`` of the zone for
  ``congestion_seconds``; ends when below 80 % of it for half that time.
"""

from __future__ import annotations

import cv2
import numpy as np

from collections import deque
from typing import Callable

from streams.detect.background import ReferenceBackground
from streams.detect.base import Detector, EventSignal, Frame
from streams.detect.calibration import GroundPlane, PixelScale
from streams.detect.classify import Classifier, same_surface
from streams.detect.latch import Latch
from streams.detect.tracker import Blob, Track, Tracker, find_blobs
from streams.detect.zones import ZoneMasks
from vms.config.detection import CameraDetection, ZoneConfig

WRONG_WAY_WINDOW_SECONDS = 3.0
# A confirmed vehicle slower than this has halted; where it halted is remembered this long.
HALT_KMH, HALT_MEMORY_SECONDS = 6.0, 120.0
# A vehicle this fast over 3 s is crawling in a queue, not stopped.
CRAWL_KMH = 6.0
# Crawling vehicles at least this far apart are two vehicles of a queue, not one seen twice.
QUEUE_SPACING_M = 5.0
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
        self.pedestrian_count = 0
        self.debris = Latch(off_seconds=end_seconds)
        self.debris_box: tuple[int, int, int, int] | None = None
        self.debris_since: float | None = None
        self.slowdown = Latch(on_seconds=zone.slowdown_seconds, off_seconds=max(end_seconds, 3 * zone.slowdown_seconds))
        self.crawling: deque[tuple[float, int, float, float]] = deque()  # (t, track id, x, y) crawling in the window
        self.speeds: deque[tuple[float, int, float]] = deque()  # (t, track id, km/h) of vehicles in the zone
        self.halts: deque[tuple[float, tuple[int, int, int, int]]] = deque()  # where confirmed vehicles halted
        self.direction: tuple[float, float] | None = None  # the zone's direction on the road

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
        self._classifiers: dict[tuple[int, int], Classifier] = {}

    def classifier(self, size: tuple[int, int]) -> Classifier:
        if size not in self._classifiers:
            calibration = self.config.calibration
            scale = GroundPlane(calibration, size) if calibration is not None else PixelScale(size)
            self._classifiers[size] = Classifier(self.traffic, scale, size)
        return self._classifiers[size]

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
        classifier = self.classifier(frame.size)
        blobs = find_blobs(foreground, max(4, int(self.traffic.object_min_area * area)))
        tracks = self.tracker.update(blobs, t)
        for track in tracks:
            track.place(t, *classifier.scale.foot(track.blob))
            if isinstance(classifier.scale, GroundPlane):
                track.sizes.append(classifier.scale.size(track.blob))
        vehicles = [b for b in blobs if b.area >= vehicle_area or (classifier.metric and classifier.vehicle_blob(b))]
        signals: list[EventSignal] = []
        for state in self.zones:
            mask = zone_masks[state.zone.id]
            zone_pixels = max(1, cv2.countNonZero(mask))
            occupancy = cv2.countNonZero(cv2.bitwise_and(foreground, mask)) / zone_pixels
            state.occupancy += OCCUPANCY_SMOOTHING * (occupancy - state.occupancy)
            inside = [track for track in tracks if _inside(track.blob, mask)]
            self._watch_speeds(state, classifier, inside, t, frame.size)
            signals += self._congestion(state, t)
            signals += self._slowdown(state, classifier, t)
            # A queue (congested, slowed, or two vehicles crawling in the window) stands by
            # nature: its vehicles are not stopped vehicles.
            queue = state.slowdown.active or len({c[1] for c in state.crawling}) >= 2
            congested = (state.zone.congestion_occupancy is not None and state.occupancy >= 0.8 * state.zone.congestion_occupancy) or queue
            signals += self._stopped(state, frame, foreground, mask, congested, classifier)
            signals += self._debris(state, frame, foreground, mask, classifier)
            signals += self._wrong_way(state, frame, inside, congested, classifier)
            signals += self._pedestrian(state, frame, inside, vehicles, classifier)
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

    def _standing(self, mask: np.ndarray, seconds: float, min_area: int,
                  want: Callable[[Blob, np.ndarray], bool]) -> tuple[Blob, float] | None:
        """The largest area of the zone that has stood unchanged ``seconds`` (median of its
        pixels' standing ages) and that ``want(blob, region)`` accepts: (blob, since)."""
        age, picture, empty = self.background.age, self.background.picture, self.background.background
        assert age is not None and picture is not None and empty is not None  # the background is ready
        # Standing areas, then the typical (median) age of each: a few pixels of a plain
        # body look unchanged already while the vehicle is still rolling to a stop.
        standing = ((age >= min(STANDING_SECONDS, seconds)) & (mask > 0)).astype(np.uint8) * 255
        for blob in sorted(find_blobs(standing, max(4, min_area)), key=lambda b: -b.area):
            region = np.zeros_like(standing)
            region[blob.y : blob.y + blob.h, blob.x : blob.x + blob.w] = standing[blob.y : blob.y + blob.h, blob.x : blob.x + blob.w]
            stood = float(np.median(age[region > 0]))
            if stood < seconds:
                continue
            if self._is_ghost(region) or same_surface(picture, empty, region):
                self.background.absorb(cv2.dilate(region, np.ones((5, 5), np.uint8)))
                continue
            if want(blob, region):
                return blob, stood
        return None

    def _arrived(self, state: _ZoneState, blob: Blob, classifier: Classifier) -> bool:
        """A confirmed vehicle drove to where ``blob`` stands (calibrated cameras)."""
        if not classifier.metric:
            return True
        box = (blob.x, blob.y, blob.x + blob.w, blob.y + blob.h)
        for track in self.tracker.tracks.values():
            if classifier.vehicle(track) and _overlap(box, _track_box(track)) > 0.3:
                return True
        return any(_overlap(box, halted) > 0.3 for _, halted in state.halts)

    def _crawling(self, blob: Blob, classifier: Classifier) -> bool:
        """A vehicle over ``blob`` still moves at walking pace (its plain body looks unchanged)."""
        if not classifier.metric:
            return False
        box = (blob.x, blob.y, blob.x + blob.w, blob.y + blob.h)
        for track in self.tracker.tracks.values():
            if _overlap(box, _track_box(track)) > 0.3:
                speed = classifier.speed_kmh(track, window=3.0)
                if speed is not None and speed >= CRAWL_KMH:
                    return True
        return False

    def _stopped(self, state: _ZoneState, frame: Frame, foreground: np.ndarray, mask: np.ndarray, congested: bool,
                 classifier: Classifier) -> list[EventSignal]:
        zone, t = state.zone, frame.wall_time
        if zone.stopped_seconds is None:
            return []
        width, height = frame.size
        found = None
        if not congested:
            minimum = int(0.1 * self.traffic.vehicle_min_area * width * height) if classifier.metric else int(0.5 * self.traffic.vehicle_min_area * width * height)
            found = self._standing(mask, zone.stopped_seconds, minimum,
                                   lambda blob, region: classifier.vehicle_blob(blob) and self._arrived(state, blob, classifier)
                                   and not self._crawling(blob, classifier))
        if found is not None:
            blob, stood = found
            state.stopped_box = (blob.x, blob.y, blob.x + blob.w, blob.y + blob.h)
            if not state.stopped.active:
                state.stopped_since = t - stood
        still_there = False
        if state.stopped.active and state.stopped_box is not None and not congested:
            x1, y1, x2, y2 = state.stopped_box
            box = foreground[y1:y2, x1:x2]
            still_there = box.size > 0 and cv2.countNonZero(box) >= STILL_THERE * box.size
        if not state.stopped.update(t, found is not None or still_there) or state.stopped_box is None:
            state.stopped_box = None
            return []
        x1, y1, x2, y2 = state.stopped_box
        return [EventSignal("stopped_vehicle", zone.id, since=state.stopped_since,
                            box=(x1 / width, y1 / height, x2 / width, y2 / height))]

    def _debris(self, state: _ZoneState, frame: Frame, foreground: np.ndarray, mask: np.ndarray,
                classifier: Classifier) -> list[EventSignal]:
        zone, t = state.zone, frame.wall_time
        if zone.debris_seconds is None:
            return []
        width, height = frame.size

        def fallen(blob: Blob, region: np.ndarray) -> bool:
            if not classifier.debris_blob(blob) or blob.touches_border(frame.size):
                return False
            box = (blob.x, blob.y, blob.x + blob.w, blob.y + blob.h)
            near = _grow(box, max(3, blob.h // 2))  # a vehicle splits into blobs: its parts lie close
            if state.stopped_box is not None and _overlap(near, state.stopped_box) > 0:
                return False
            if any(_overlap(near, halted) > 0.1 for _, halted in state.halts):
                return False  # where a vehicle halted: a part of it
            # Not part of a vehicle that stopped, nor a person standing.
            return not any(_overlap(box, _track_box(track)) > 0.1 and (classifier.vehicle(track) or track.travelled > 3)
                           for track in self.tracker.tracks.values())

        found = self._standing(mask, zone.debris_seconds, int(self.traffic.object_min_area * width * height), fallen)
        still_there = False
        if found is not None:
            blob, stood = found
            state.debris_box = (blob.x, blob.y, blob.x + blob.w, blob.y + blob.h)
            if not state.debris.active:
                state.debris_since = t - stood
        elif state.debris.active and state.debris_box is not None:
            x1, y1, x2, y2 = state.debris_box
            box = foreground[y1:y2, x1:x2]
            still_there = box.size > 0 and cv2.countNonZero(box) >= STILL_THERE * box.size
        if not state.debris.update(t, found is not None or still_there) or state.debris_box is None:
            state.debris_box = None
            return []
        x1, y1, x2, y2 = state.debris_box
        return [EventSignal("debris", zone.id, since=state.debris_since, box=(x1 / width, y1 / height, x2 / width, y2 / height))]

    def _watch_speeds(self, state: _ZoneState, classifier: Classifier, tracks: list[Track], t: float,
                      size: tuple[int, int]) -> None:
        """Speeds of confirmed vehicles in the zone, how many crawl now, and where they halt."""
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
            if speed < HALT_KMH and classifier.vehicle(track):
                state.halts.append((t, _track_box(track)))
        window = state.zone.slowdown_seconds
        while state.speeds and state.speeds[0][0] < t - window:
            state.speeds.popleft()
        while state.crawling and state.crawling[0][0] < t - window:
            state.crawling.popleft()
        while state.halts and (state.halts[0][0] < t - HALT_MEMORY_SECONDS or len(state.halts) > 50):
            state.halts.popleft()

    def _slowdown(self, state: _ZoneState, classifier: Classifier, t: float) -> list[EventSignal]:
        """A queue, not one stopped vehicle: two or more vehicles some metres apart crawl within
        the window, and the zone's median speed over the window is below the limit."""
        zone = state.zone
        if zone.slowdown_kmh is None or not classifier.metric:
            return []
        speeds = [speed for _, _, speed in state.speeds]
        apart = any(a[1] != b[1] and np.hypot(a[2] - b[2], a[3] - b[3]) >= QUEUE_SPACING_M
                    for a in state.crawling for b in state.crawling)
        slow = apart and bool(speeds) and float(np.median(speeds)) < zone.slowdown_kmh
        if not state.slowdown.update(t, slow):
            return []
        median = round(float(np.median(speeds)), 1) if speeds else None
        return [EventSignal("slowdown", zone.id, since=state.slowdown.onset,
                            details={"speed_kmh": median, "vehicles": len({i for _, i, _ in state.speeds})})]

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

    def _wrong_way(self, state: _ZoneState, frame: Frame, tracks: list[Track], congested: bool,
                   classifier: Classifier) -> list[EventSignal]:
        zone, t = state.zone, frame.wall_time
        if zone.direction is None:
            return []
        if state.direction is None:
            state.direction = self._road_direction(zone.polygon, zone.direction, frame.size, classifier)
        dx, dy = state.direction
        distance = self.traffic.wrong_way_m if classifier.metric else self.traffic.wrong_way_distance
        culprit = None
        if not congested:
            for track in tracks:
                if not classifier.vehicle(track):
                    continue
                points = [p for p in track.ground if p[0] >= t - WRONG_WAY_WINDOW_SECONDS]
                if len(points) < (6 if classifier.metric else 4) or not _steady_size(track, len(points)):
                    continue  # too short, or the track hopped between blobs of other sizes
                jump = 15.0 if classifier.metric else 0.2  # a leap to another blob, not a step
                along = [(b[1] - a[1]) * dx + (b[2] - a[2]) * dy for a, b in zip(points, points[1:])
                         if abs(b[1] - a[1]) + abs(b[2] - a[2]) < jump]
                backwards = sum(1 for a in along if a < 0)
                if sum(along) <= -distance and backwards >= 0.7 * len(along):
                    culprit = track
                    break
        if culprit is not None:
            state.wrong_way_track = culprit
        if not state.wrong_way.update(t, culprit is not None):
            return []
        track = state.wrong_way_track
        return [EventSignal("wrong_way", zone.id, since=track.born if track else None, box=_box(track, frame) if track else None,
                            details={"track": track.id} if track else {})]

    def _road_direction(self, polygon: list[tuple[float, float]], direction: tuple[float, float], size: tuple[int, int],
                        classifier: Classifier) -> tuple[float, float]:
        """The zone's direction of travel (drawn on the picture) as a direction on the road."""
        width, height = size
        cx = sum(x for x, _ in polygon) / len(polygon) * width
        cy = sum(y for _, y in polygon) / len(polygon) * height
        return classifier.scale.direction(cx, cy, direction[0], direction[1])

    def _pedestrian(self, state: _ZoneState, frame: Frame, tracks: list[Track], vehicles: list[Blob],
                    classifier: Classifier) -> list[EventSignal]:
        zone, t = state.zone, frame.wall_time
        if not zone.vehicle_only:
            return []
        people = []
        for track in tracks:
            blob = track.blob
            if not classifier.person(track, t) or blob.touches_border(frame.size):
                continue
            if any(_near(blob, vehicle, max(3, vehicle.h // 3)) for vehicle in vehicles if vehicle != blob):
                continue  # a fragment of a vehicle, not something on its own
            region = np.zeros(frame.array.shape, np.uint8)
            region[blob.y : blob.y + blob.h, blob.x : blob.x + blob.w] = 255
            if self._is_ghost(region):
                # The trace of something that was in the background when it was learned.
                self.background.absorb(cv2.dilate(region, np.ones((5, 5), np.uint8)))
                continue
            people.append(track)
        if people:
            state.pedestrian_track = people[0]
            state.pedestrian_count = len(people)
        if not state.pedestrian.update(t, bool(people)):
            return []
        track = state.pedestrian_track
        details = {"count": state.pedestrian_count}
        if track:
            details["track"] = track.id
        return [EventSignal("pedestrian", zone.id, since=track.born if track else None, box=_box(track, frame) if track else None,
                            details=details)]


def _has_rules(zone: ZoneConfig) -> bool:
    return bool(zone.direction or zone.vehicle_only or zone.stopped_seconds or zone.congestion_occupancy
                or zone.debris_seconds or zone.slowdown_kmh)


def _inside(blob: Blob, mask: np.ndarray) -> bool:
    """Where the blob touches the road (its bottom middle) lies in the zone."""
    cx, cy = blob.x + blob.w / 2, blob.y + blob.h - 1
    return bool(mask[min(int(cy), mask.shape[0] - 1), min(int(cx), mask.shape[1] - 1)] > 0)


def _steady_size(track: Track, last: int) -> bool:
    """The track's last ``last`` widths in metres stay within a factor 1.6 (always true
    uncalibrated: pixel sizes change with distance and at the picture's edge)."""
    if not track.sizes:
        return True
    widths = [w for w, _ in list(track.sizes)[-last:]]
    return bool(max(widths) <= 1.6 * max(min(widths), 1e-6))


def _grow(box: tuple, pixels: int) -> tuple:
    return (box[0] - pixels, box[1] - pixels, box[2] + pixels, box[3] + pixels)


def _track_box(track: Track) -> tuple[int, int, int, int]:
    b = track.blob
    return (b.x, b.y, b.x + b.w, b.y + b.h)


def _overlap(a: tuple, b: tuple) -> float:
    """Intersection over the smaller box's area."""
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy / smaller if smaller > 0 else 0.0


def _near(a: Blob, b: Blob, margin: int) -> bool:
    ax1, ay1, ax2, ay2 = a.grown(margin)
    return ax1 < b.x + b.w and b.x < ax2 and ay1 < b.y + b.h and b.y < ay2


def _box(track: Track, frame: Frame) -> tuple[float, float, float, float]:
    width, height = frame.size
    b = track.blob
    return (b.x / width, b.y / height, (b.x + b.w) / width, (b.y + b.h) / height)
