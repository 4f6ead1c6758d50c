"""Smoke: edges and contrast lost over a region, more than a change of light explains, for long.

The picture is cut into cells (16 x 9). Each cell keeps a reference of its brightness and edge
strength (mean gradient magnitude), learned over ``learn_seconds`` and then followed slowly
while nothing is suspected. Light scales both together: a lighting step, flicker or the IR
switch multiplies brightness and edges alike, so the edges the cell's present brightness
predicts are ``reference edges x brightness / reference brightness``. Smoke mixes the picture
with a grey haze: brightness drifts towards the haze, edges fade. A cell is smoky when its
edges fall below ``edge_ratio`` of the prediction; smoke is raised when ``min_cells``
connected smoky cells (inside the zones) have stayed smoky ``seconds``. Vehicles hide cells
only while they pass, so persistence tells them apart; a queue of plain lorries standing
still is the known weak spot.
"""

from __future__ import annotations

import cv2
import numpy as np

from streams.detect.base import Detector, EventSignal, Frame
from streams.detect.latch import Latch
from streams.detect.zones import ZoneMasks
from vms.config.detection import CameraDetection

GRID = (16, 9)
FOLLOW_RATE = 0.01  # per frame, while nothing is suspected
# Cells this flat in the reference cannot lose edges; they are not judged.
MIN_REFERENCE_EDGES = 2.0


class SmokeDetector(Detector):
    name = "smoke"

    def __init__(self, config: CameraDetection) -> None:
        self.config = config.smoke
        self.masks = ZoneMasks(config)
        self.on_gap()

    def on_gap(self) -> None:
        self.reference: tuple[np.ndarray, np.ndarray] | None = None
        self._learning: list[tuple[np.ndarray, np.ndarray]] = []
        self._learn_start: float | None = None
        self.smoky_since: np.ndarray | None = None
        self.latch = Latch(off_seconds=5.0)
        self._box: tuple[float, float, float, float] | None = None
        self._cells = 0

    def process(self, frame: Frame) -> list[EventSignal]:
        t = frame.wall_time
        brightness, edges = _cells(frame.array)
        if self.reference is None:
            self._learn(brightness, edges, t)
            return []
        ref_brightness, ref_edges = self.reference
        judged = (ref_edges >= MIN_REFERENCE_EDGES) & self._watched(frame.size)
        predicted = ref_edges * np.clip(brightness / np.maximum(ref_brightness, 1.0), 0.3, 3.0)
        smoky = judged & (edges < self.config.edge_ratio * predicted)
        since = self.smoky_since if self.smoky_since is not None else np.full(smoky.shape, np.nan, np.float64)
        since = np.where(smoky, np.where(np.isnan(since), t, since), np.nan)
        self.smoky_since = since
        lasting = smoky & (t - np.nan_to_num(since, nan=t) >= self.config.seconds)
        region = self._largest(lasting)
        if not smoky.any():
            rate = FOLLOW_RATE
            ref_brightness += rate * (brightness - ref_brightness)
            ref_edges += rate * (edges - ref_edges)
        if not self.latch.update(t, region is not None):
            return []
        if region is not None:
            self._box, self._cells = region
        return [EventSignal("smoke", None, score=round(min(1.0, self._cells / (4 * self.config.min_cells)), 3),
                            since=self.latch.onset, box=self._box, details={"cells": self._cells})]

    def _learn(self, brightness: np.ndarray, edges: np.ndarray, t: float) -> None:
        self._learn_start = self._learn_start if self._learn_start is not None else t
        self._learning.append((brightness, edges))
        if t - self._learn_start >= self.config.learn_seconds and len(self._learning) >= 3:
            self.reference = (np.median([b for b, _ in self._learning], axis=0).astype(np.float32),
                              np.median([e for _, e in self._learning], axis=0).astype(np.float32))
            # Epoch seconds need float64: float32 steps by 128 s at today's wall times, which
            # made a cell smoky for a moment "last" 128 s at each step and real smoke none.
            self.smoky_since = np.full(self.reference[0].shape, np.nan, np.float64)
            self._learning.clear()

    def _watched(self, size: tuple[int, int]) -> np.ndarray:
        _, zones = self.masks.at(size)
        union = np.zeros((size[1], size[0]), np.uint8)
        for mask in zones.values():
            union |= mask
        return cv2.resize(union, GRID, interpolation=cv2.INTER_AREA) > 64

    def _largest(self, cells: np.ndarray) -> tuple[tuple[float, float, float, float], int] | None:
        count, labels, stats, _ = cv2.connectedComponentsWithStats(cells.astype(np.uint8), connectivity=8)
        if count <= 1:
            return None
        best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        x, y, w, h, area = stats[best]
        if area < self.config.min_cells:
            return None
        gw, gh = GRID
        return (x / gw, y / gh, (x + w) / gw, (y + h) / gh), int(area)


def _cells(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean brightness and mean edge strength of each cell of the grid."""
    picture = grey.astype(np.float32)
    gx = cv2.Sobel(picture, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(picture, cv2.CV_32F, 0, 1, ksize=3)
    edges = cv2.magnitude(gx, gy) / 4
    return (cv2.resize(picture, GRID, interpolation=cv2.INTER_AREA),
            cv2.resize(edges, GRID, interpolation=cv2.INTER_AREA))
