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

Edges are measured on a short running average of the picture (about a second), and the
reference on the median of the learning pictures: sensor noise and compression artefacts
average out, so a cell's edges are its structure (tiles, markings, windows), not noise whose
strength changes with the encoder, the IR switch or the light. Flat cells (asphalt, even with a
shadow's soft edge on it) then have too little structure to be judged, which is right: there is
nothing of their own for smoke to hide there, and the light's edges move with the sun.
The reference follows the scene (sun, clouds, slow light changes) cell by cell, only where the
cell is clearly clear (edges near what its brightness predicts).
"""

from __future__ import annotations

import cv2
import numpy as np

from streams.detect.base import Detector, EventSignal, Frame
from streams.detect.latch import Latch
from streams.detect.zones import ZoneMasks
from vms.config.detection import CameraDetection

GRID = (16, 9)
FOLLOW_RATE = 0.002  # per frame (5 fps: ~100 s), for cells that are clearly clear: slower than smoke spreads
# A cell whose edges are at least this share of the prediction is clearly clear (followed).
CLEAR_RATIO = 0.8
# Weight of the newest picture in the running average edges are measured on (5 fps: ~1 s).
AVERAGE_RATE = 0.3
# Grey levels at which a camera's pixel is clipped, and the share of them that spoils a cell.
CLIPPED, MAX_CLIPPED_SHARE = (3, 245), 0.15
# A smoky cell is clear again once its edges are above this multiple of the threshold.
RELEASE = 1.3
# Mean grey-level change of a cell against the running average that means something moves in it.
MOVING_LEVEL = 3.0
# Pictures sampled over the learning time for the reference's median.
LEARN_SAMPLES = 15
# Cells this flat in the reference (mean edge strength, grey levels per pixel) have no structure
# of their own to lose; they are not judged. Plain asphalt measures 1-2, with the soft edge of a
# building's shadow on it 3-5: in sun that edge creeps away and the cell, brighter and without
# it, looked smoky (gateway false alarms). Walls, lights and windows measure 8-50.
MIN_REFERENCE_EDGES = 6.0


class SmokeDetector(Detector):
    name = "smoke"

    def __init__(self, config: CameraDetection) -> None:
        self.config = config.smoke
        self.masks = ZoneMasks(config)
        self.on_gap()

    def on_gap(self) -> None:
        self.reference: tuple[np.ndarray, np.ndarray] | None = None
        self._learning: list[np.ndarray] = []  # pictures (float32) sampled while learning
        self._last_sample = 0.0
        self._learn_start: float | None = None
        self.smoky_since: np.ndarray | None = None
        self.latch = Latch(off_seconds=5.0)
        self._box: tuple[float, float, float, float] | None = None
        self._cells = 0
        self._average: np.ndarray | None = None

    def process(self, frame: Frame) -> list[EventSignal]:
        t = frame.wall_time
        picture = frame.array.astype(np.float32)
        if self._average is None or self._average.shape != picture.shape:
            self._average = picture.copy()
        # Cells where something moves now (a vehicle, a sweep of light): not followed.
        moving = cv2.resize(cv2.absdiff(picture, self._average), GRID, interpolation=cv2.INTER_AREA) > MOVING_LEVEL
        cv2.accumulateWeighted(picture, self._average, AVERAGE_RATE)
        if self.reference is None:
            self._learn(picture, t)
            return []
        brightness, edges = _cells(self._average)
        # Clipped (over- or under-exposed) pixels have no edges to lose: sun on a facade or
        # glare saturates them, which the brightness ratio cannot predict. Smoke greys a
        # picture towards the middle, never into clipping.
        clipped = cv2.resize(((picture >= CLIPPED[1]) | (picture <= CLIPPED[0])).astype(np.float32), GRID,
                             interpolation=cv2.INTER_AREA) > MAX_CLIPPED_SHARE
        ref_brightness, ref_edges = self.reference
        judged = (ref_edges >= MIN_REFERENCE_EDGES) & self._watched(frame.size) & ~clipped
        predicted = ref_edges * np.clip(brightness / np.maximum(ref_brightness, 1.0), 0.3, 3.0)
        since = self.smoky_since if self.smoky_since is not None else np.full(judged.shape, np.nan, np.float64)
        # Hysteresis: a smoky cell stays smoky until its edges clearly come back, so a cell
        # hovering at the threshold in thin smoke keeps its time.
        limit = np.where(np.isnan(since), self.config.edge_ratio, RELEASE * self.config.edge_ratio)
        smoky = judged & (edges < limit * predicted)
        since = np.where(smoky, np.where(np.isnan(since), t, since), np.nan)
        self.smoky_since = since
        lasting = smoky & (t - np.nan_to_num(since, nan=t) >= self.config.seconds)
        region = self._largest(lasting)
        # Follow only still, clearly clear cells: a passing vehicle adds edges of its own, and
        # a reference raised by them would make the empty road look smoky afterwards.
        clear = ~moving & (~judged | (edges >= CLEAR_RATIO * predicted))
        ref_brightness[clear] += FOLLOW_RATE * (brightness - ref_brightness)[clear]
        ref_edges[clear] += FOLLOW_RATE * (edges - ref_edges)[clear]
        if not self.latch.update(t, region is not None):
            return []
        if region is not None:
            self._box, self._cells = region
        return [EventSignal("smoke", None, score=round(min(1.0, self._cells / (4 * self.config.min_cells)), 3),
                            since=self.latch.onset, box=self._box, details={"cells": self._cells})]

    def _learn(self, picture: np.ndarray, t: float) -> None:
        self._learn_start = self._learn_start if self._learn_start is not None else t
        # Samples spread over the whole learning time, so that a vehicle that passes or waits
        # a moment is in few of them and the median is the empty scene.
        if not self._learning or t - self._last_sample >= self.config.learn_seconds / LEARN_SAMPLES:
            self._learning.append((self._average if self._average is not None else picture).copy())
            self._last_sample = t
        if t - self._learn_start >= self.config.learn_seconds and len(self._learning) >= 3:
            # The temporal median: the empty, noise-free scene (passing vehicles and noise removed).
            self.reference = _cells(np.median(np.stack(self._learning), axis=0).astype(np.float32))
            # Epoch seconds need float64: float32 steps by 128 s at today's wall times, which
            # made a cell smoky for a moment "last" 128 s at each step and real smoke none.
            self.smoky_since = np.full(self.reference[0].shape, np.nan, np.float64)
            self._learning.clear()

    def _watched(self, size: tuple[int, int]) -> np.ndarray:
        """Cells (bool, GRID) over the zones or the air above them: smoke rises from the road
        and hides the walls, lights and ceiling seen above it, which have the structure to lose
        (asphalt is too flat), so each zone pixel watches its column up to the picture's top."""
        _, zones = self.masks.at(size)
        union = np.zeros((size[1], size[0]), np.uint8)
        for mask in zones.values():
            union |= mask
        above = np.maximum.accumulate(union[::-1], axis=0)[::-1]
        return cv2.resize(above, GRID, interpolation=cv2.INTER_AREA) > 64

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


def _cells(picture: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean brightness and mean edge strength (grey levels per pixel) of each cell of the grid
    (float32, GRID[1] x GRID[0]) of a grey ``picture`` (float32, H x W)."""
    gx = cv2.Sobel(picture, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(picture, cv2.CV_32F, 0, 1, ksize=3)
    edges = cv2.magnitude(gx, gy) / 4
    return (cv2.resize(picture, GRID, interpolation=cv2.INTER_AREA),
            cv2.resize(edges, GRID, interpolation=cv2.INTER_AREA))
