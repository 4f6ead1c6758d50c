"""The traffic detector: one frame through the reference background, the tracker, and every
zone's rules (each in a module of its own, see the package's docstring)."""

from __future__ import annotations

import cv2
import numpy as np

from streams.detect.background import ReferenceBackground
from streams.detect.base import Detector, EventSignal, Frame
from streams.detect.calibration import GroundPlane, PixelScale
from streams.detect.classify import Classifier
from streams.detect.traffic.congestion import congestion, near_congestion
from streams.detect.traffic.context import Sight
from streams.detect.traffic.debris import debris
from streams.detect.traffic.geometry import inside
from streams.detect.traffic.pedestrian import pedestrian
from streams.detect.traffic.slowdown import in_queue, slowdown
from streams.detect.traffic.speeds import watch_flow, watch_speeds
from streams.detect.traffic.standing import StandingAreas
from streams.detect.traffic.stopped import stopped
from streams.detect.traffic.wrong_way import wrong_way
from streams.detect.traffic.zone import ZoneState, has_rules
from streams.detect.tracker import Tracker, find_blobs
from streams.detect.zones import ZoneMasks
from vms.config.detection import CameraDetection

# Seconds between sweeps that learn away ghosts anywhere in the picture.
GHOST_SWEEP_SECONDS = 1.0
# Weight of the newest frame in a zone's smoothed occupancy.
OCCUPANCY_SMOOTHING = 0.4


class TrafficAnalytics(Detector):
    name = "traffic"

    def __init__(self, config: CameraDetection) -> None:
        self.config = config
        self.traffic = config.traffic
        self.masks = ZoneMasks(config)
        self.background = ReferenceBackground(config.traffic.difference_threshold, config.traffic.absorb_seconds)
        self.standing = StandingAreas(self.background)
        self.tracker = Tracker()
        self.zones = [ZoneState(zone, config.traffic.end_seconds) for zone in config.zones if has_rules(zone)]
        self._swept_at = 0.0
        self._classifiers: dict[tuple[int, int], Classifier] = {}
        self._roads: dict[tuple[int, int], np.ndarray] = {}

    def classifier(self, size: tuple[int, int]) -> Classifier:
        """The classifier for pictures of ``size`` (width, height): metric with a calibration."""
        if size not in self._classifiers:
            calibration = self.config.calibration
            scale = GroundPlane(calibration, size) if calibration is not None else PixelScale(size)
            self._classifiers[size] = Classifier(self.traffic, scale, size)
        return self._classifiers[size]

    def road(self, size: tuple[int, int]) -> np.ndarray:
        """uint8 mask (255 = in a zone) of the road at picture ``size`` (width, height): where
        the reference background fits its brightness gains per row."""
        if size not in self._roads:
            _, zone_masks = self.masks.at(size)
            road = np.zeros((size[1], size[0]), np.uint8)
            for mask in zone_masks.values():
                road |= mask
            self._roads[size] = road
        return self._roads[size]

    def on_gap(self) -> None:
        self.background.reset()
        self.tracker.reset()
        for state in self.zones:
            state.reset()

    def process(self, frame: Frame) -> list[EventSignal]:
        if not self.zones:
            return []
        t = frame.wall_time
        valid, zone_masks = self.masks.at(frame.size)
        road = self.road(frame.size) if self.traffic.road_gains else None
        foreground = self.background.apply(frame.array, t, road)
        if foreground is None:
            return []
        foreground = cv2.bitwise_and(foreground, valid)
        area = frame.size[0] * frame.size[1]
        min_blob = max(4, int(self.traffic.object_min_area * area))
        if t - self._swept_at >= GHOST_SWEEP_SECONDS:
            self._swept_at = t
            self.standing.sweep_ghosts(min_blob)
            swept = self.background.foreground
            if swept is None:
                raise RuntimeError("the background lost its foreground mask while ghosts were swept")
            foreground = cv2.bitwise_and(swept, valid)
        classifier = self.classifier(frame.size)
        blobs = find_blobs(foreground, min_blob)
        tracks = self.tracker.update(blobs, t)
        for track in tracks:
            track.place(t, *classifier.scale.foot(track.blob))
            if isinstance(classifier.scale, GroundPlane):
                track.sizes.append(classifier.scale.size(track.blob))
        vehicle_area = self.traffic.vehicle_min_area * area
        vehicles = [b for b in blobs if b.area >= vehicle_area or (classifier.metric and classifier.vehicle_blob(b))]
        sight = Sight(frame, foreground, blobs, vehicles, classifier, self.tracker, self.standing, self.traffic)
        signals: list[EventSignal] = []
        for state in self.zones:
            mask = zone_masks[state.zone.id]
            zone_pixels = max(1, cv2.countNonZero(mask))
            occupancy = cv2.countNonZero(cv2.bitwise_and(foreground, mask)) / zone_pixels
            state.occupancy += OCCUPANCY_SMOOTHING * (occupancy - state.occupancy)
            here = [track for track in tracks if inside(track.blob, mask)]
            watch_speeds(state, classifier, here, t, frame.size)
            watch_flow(state, classifier, foreground, mask, t, frame.size)
            signals += congestion(state, t, self.traffic.end_seconds)
            signals += slowdown(state, classifier, t)
            # A queue (congested, slowed, or two vehicles crawling) stands by nature: its
            # vehicles are not stopped vehicles, and they shuffle.
            congested = near_congestion(state) or in_queue(state)
            signals += stopped(state, sight, mask, congested)
            signals += debris(state, sight, mask)
            signals += wrong_way(state, sight, here, congested)
            signals += pedestrian(state, sight, here)
        return signals
