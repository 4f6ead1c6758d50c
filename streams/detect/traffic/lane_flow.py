"""A lane's speed without tracks (calibrated cameras): how far the lane's foreground moves
along the road between frames.

Queued vehicles merge into one blob, split into fragments, or join the glow on the wall, so
their tracks break and a crawling queue leaves few speeds (the old slowdown rule saw queues
in 2 of 8 clips). The lane's foreground does not care which blob is which: each frame, the
share of the lane's width that is foreground is taken per picture row and laid out along the
road (metres from the camera, ``STEP_M`` cells): the lane's occupancy profile. Traffic moves
that profile along the road; the speed is the one whose shifts best overlay the profiles of
the last ``LAGS`` frames on this one (summed over lags, so a queue's repeating pattern,
which matches itself one vehicle later at one lag, does not at the others). A standing
thing reads 0 km/h, a crawling queue its crawl, free traffic its speed (the top of a
vehicle lies farther along the road than its foot and moves faster in road metres, by up to
a third for a car: speeds read high, never low).

Only shifts in the lane's direction of travel are tried (any sign if the zone has none).
Cells between two picture rows (far away, one row spans metres) take the rows' values
interpolated and weigh by the share of the cell a row covers, so the coarse far end does
not outvote the near end.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from streams.detect.calibration import GroundPlane

STEP_M = 0.5  # profile cell along the road (m)
# Lags (frames) whose overlays are summed. At 5 fps, 0.2-1.0 s: a crawl of 4 km/h moves 1.1 m
# in the longest, and free traffic at 50 km/h (21 m apart when dense) moves 14 m in it.
LAGS = (1, 2, 3, 4, 5)
# Speeds tried (km/h): fine up to where slowdowns are decided, coarse above.
SPEEDS_KMH = np.concatenate([np.arange(0.0, 40.0, 1.0), np.arange(40.0, 131.0, 5.0)])
# The lane must hold this much foreground (m of road, summed over the profile) now and at
# every lag to be measured: less is noise or a passing speck.
MIN_OCCUPIED_M = 3.0
# The best overlay must cover at least this share of the foreground (weighted Jaccard, mean
# over lags); below, the profiles do not match (vehicles came and went, rain, a glow).
MIN_MATCH = 0.5


class LaneProfile:
    """The occupancy profile of one lane zone, and its history, at one picture size."""

    def __init__(self, mask: np.ndarray, scale: GroundPlane, flow: int) -> None:
        """``mask``: uint8 (H, W), 255 in the lane; ``flow``: +1 if traffic moves away from
        the camera (road Y grows), -1 towards it, 0 unknown (both tried). Raises ValueError
        for a zone less than two picture rows high."""
        rows = np.flatnonzero((mask > 0).any(axis=1))
        if len(rows) < 2:
            raise ValueError("a lane zone needs at least two picture rows to measure speed")
        self.mask = mask > 0
        self.rows = rows
        self.row_pixels = self.mask[rows].sum(axis=1).astype(np.float32)
        middles = [float(np.flatnonzero(self.mask[r]).mean()) for r in rows]
        ys = np.array([scale.ground(u, r + 0.5)[1] for u, r in zip(middles, rows)], np.float64)
        order = np.argsort(ys)
        self.rows, self.row_pixels, self.row_y = rows[order], self.row_pixels[order], ys[order]
        self.grid = np.arange(self.row_y[0], self.row_y[-1] + STEP_M, STEP_M)
        cells = np.clip(np.round((self.row_y - self.grid[0]) / STEP_M).astype(int), 0, len(self.grid) - 1)
        self.cells = cells
        counts = np.bincount(cells, minlength=len(self.grid)).astype(np.float64)
        # A cell that holds a row weighs 1; between rows, the share of a row's span it is.
        spacing = np.gradient(self.row_y)
        between = np.interp(self.grid, self.row_y, STEP_M / np.maximum(spacing, STEP_M))
        self.weight = np.where(counts > 0, 1.0, between)
        self.counts = counts
        self.flow = flow
        self.history: deque[tuple[float, np.ndarray]] = deque(maxlen=max(LAGS) + 1)

    def profile(self, foreground: np.ndarray) -> np.ndarray:
        """Share (0..1) of the lane's width that is foreground, per ``STEP_M`` cell of road."""
        share = ((foreground[self.rows] > 0) & self.mask[self.rows]).sum(axis=1) / self.row_pixels
        summed = np.bincount(self.cells, weights=share, minlength=len(self.grid))
        held = self.counts > 0
        values = np.interp(self.grid, self.grid[held], summed[held] / self.counts[held])
        return values

    def update(self, foreground: np.ndarray, t: float) -> tuple[float, float] | None:
        """Add the frame's foreground (uint8, H x W) seen at ``t`` (s); the lane's speed (km/h)
        and how well it overlays (0..1), or None while the lane holds too little to measure
        or the history is short."""
        now = self.profile(foreground)
        self.history.append((t, now))
        if self.occupied(now) < MIN_OCCUPIED_M or len(self.history) <= max(LAGS):
            return None
        speeds = SPEEDS_KMH
        total = np.zeros(len(speeds))
        used = 0
        past = list(self.history)
        for lag in LAGS:
            t0, before = past[-1 - lag]
            dt = t - t0
            if dt <= 0 or self.occupied(before) < MIN_OCCUPIED_M:
                continue
            total += self._overlay(before, now, speeds / 3.6 * dt / STEP_M)
            used += 1
        if used < len(LAGS) - 1:
            return None
        best = int(np.argmax(total))
        match = float(total[best]) / used
        return float(speeds[best]), match

    def occupied(self, profile: np.ndarray) -> float:
        """Metres of the lane's road covered by foreground (share of the width, summed; far cells
        count fully: one car 60 m away covers a few coarse rows)."""
        return float(profile.sum()) * STEP_M

    def _overlay(self, before: np.ndarray, now: np.ndarray, shifts: np.ndarray) -> np.ndarray:
        """Weighted Jaccard overlap of ``before`` moved along the road by each of ``shifts``
        (cells, fractional) with ``now``; in the flow's direction, or the better of both."""
        count = len(self.grid)
        index = np.arange(count, dtype=np.float64)
        best = np.zeros(len(shifts))
        for sign in (self.flow,) if self.flow else (1, -1):
            # ``before`` seen ``shift`` cells later along the road: the value at cell c came from c - shift.
            source = index[None, :] - sign * shifts[:, None]
            inside = (source >= 0) & (source <= count - 1)
            moved = np.interp(source.ravel(), index, before).reshape(source.shape)
            weight = self.weight[None, :] * inside
            union = (np.maximum(now[None, :], moved) * weight).sum(axis=1)
            common = (np.minimum(now[None, :], moved) * weight).sum(axis=1)
            best = np.maximum(best, np.where(union > 0, common / np.maximum(union, 1e-9), 0.0))
        return best
