"""Motion per zone: MOG2 background subtraction, ignore masks, minimum area and debounce.

Lighting flicker is divided out before subtraction (the picture's brightness is matched to
a slow running mean), and a frame where most of the picture changes at once is treated as a
lighting or camera change, neither motion nor quiet.
"""

from __future__ import annotations

import cv2
import numpy as np

from streams.detect.base import Detector, EventSignal, Frame
from streams.detect.latch import Latch
from streams.detect.zones import ZoneMasks
from vms.config.detection import CameraDetection

WARMUP_FRAMES = 8
GLOBAL_CHANGE_FRACTION = 0.5
HISTORY_FRAMES = 300


class MotionDetector(Detector):
    name = "motion"

    def __init__(self, config: CameraDetection) -> None:
        self.config = config.motion
        self.masks = ZoneMasks(config)
        self.zone_ids = [z.id for z in config.zones if z.motion] if config.zones else [None]
        self._kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
        self.on_gap()

    def on_gap(self) -> None:
        self.subtractor = cv2.createBackgroundSubtractorMOG2(HISTORY_FRAMES, self.config.sensitivity, False)
        self.frames = 0
        self.brightness: float | None = None
        self.latches = {zone: Latch(off_seconds=self.config.end_seconds, on_frames=self.config.start_frames) for zone in self.zone_ids}
        self.moving = {zone: 0.0 for zone in self.zone_ids}

    def process(self, frame: Frame) -> list[EventSignal]:
        if not self.config.enabled or not self.zone_ids:
            return []
        valid, zones = self.masks.at(frame.size)
        picture = self._steady_brightness(frame.array, valid)
        foreground = self.subtractor.apply(picture)
        self.frames += 1
        if self.frames <= WARMUP_FRAMES:
            return []
        foreground = cv2.morphologyEx(foreground, cv2.MORPH_OPEN, self._kernel)
        foreground = cv2.bitwise_and(foreground, valid)
        if cv2.countNonZero(foreground) > GLOBAL_CHANGE_FRACTION * max(1, cv2.countNonZero(valid)):
            return self._signals(frame)  # lights or camera changed: hold the current state
        min_pixels = self.config.min_area * frame.size[0] * frame.size[1]
        for zone_id in self.zone_ids:
            moving = cv2.countNonZero(cv2.bitwise_and(foreground, zones[zone_id]))
            self.moving[zone_id] = moving / max(1, cv2.countNonZero(zones[zone_id]))
            self.latches[zone_id].update(frame.wall_time, moving >= min_pixels)
        return self._signals(frame)

    def _signals(self, frame: Frame) -> list[EventSignal]:
        return [
            EventSignal("motion", zone_id, score=round(min(1.0, 5 * self.moving[zone_id]), 3), since=latch.onset)
            for zone_id, latch in self.latches.items()
            if latch.active
        ]

    def _steady_brightness(self, grey: np.ndarray, valid: np.ndarray) -> np.ndarray:
        mean = cv2.mean(grey, mask=valid)[0]
        if self.brightness is None:
            self.brightness = mean
        gain = self.brightness / mean if mean >= 1 else 1.0
        self.brightness += 0.05 * (mean - self.brightness)
        if abs(gain - 1) < 0.005:
            return grey
        return cv2.convertScaleAbs(grey, alpha=min(max(gain, 0.5), 2.0))
