"""Brightness gains that bring a picture to its reference background, fitted on the road.

A tunnel is lit in sections along the tube, and a camera's exposure, its IR switch or a
lighting step can change one section and not the next. One gain for the whole picture is then
wrong for part of it; worse, that part stays foreground, and a fit made only on the pixels
that are not foreground keeps it out for good: a stable wrong state on which passing vehicles
seem to halt (docs/decisions.md 126).

On a road seen along its axis a picture row of road is one distance from the camera, so it is
lit alike: ``row_gains`` fits one gain per row, on the row's road pixels only (walls, signs
and lamps are not the road and saturate first), and among them on those that were not
foreground in the last frame, so vehicles stay out of the fit. The frame of a step is a scene
change that leaves the mask as it was, so the next fit sees the relit road as road. A row
that is nearly all foreground (vehicles side by side) takes its neighbours' gain. A running
median along the rows removes one row's noise and keeps the edge of a lit section.

At a gateway a row is not lit alike: a building's shadow edge runs along the road, so one row
is part sun, part shade, and the camera's IR switch brings a vignette that darkens a row's
ends. ``cell_gains`` fits one gain per cell of a few rows by a few columns of road, on the
same pixels, and falls back to the row gain in a cell with too few of them (a vehicle over
it); the cells' gains are smoothed by a 3x3 median (which keeps a straight shadow edge) and
interpolated between cell centres, so a pixel at a shadow edge is wrong by at most half the
edge's step, not all of it.
"""

from __future__ import annotations

import cv2
import numpy as np

# Gains are kept within these bounds (a picture twice as bright or dark is a scene change).
GAIN_BOUNDS = (0.5, 2.0)
# Pixels too dark or clipped say nothing about a gain.
USABLE_GREY = (8.0, 250.0)
# A row is fitted on its non-foreground road pixels when at least this share of them is left.
MIN_EMPTY_SHARE = 0.25
# ...and at least this many pixels.
MIN_PIXELS = 6
# Rows of the running median along the road.
SMOOTH_ROWS = 5
# Cells of ``cell_gains`` (pixels at the 320x180 analysis size): 4 rows are about 1-6 m of road,
# 16 columns about half a lane near the camera; a cell holds 64 pixels, of which MIN_PIXELS
# and MIN_EMPTY_SHARE must be free road for the cell to be fitted on its own.
CELL_ROWS = 4
CELL_COLS = 16
# Cells around a pixel whose gains differ by more than this (relative) make an edge of light.
EDGE_SPREAD = 0.05
# A row of road with more than this share of its pixels changed since the last pictures is
# relit (a lighting step); under it, what changed is a newcomer (a vehicle arriving).
STEP_SHARE = 0.5
# A road pixel whose background is this many times its cell's median road is a lane marking.
MARKING_FACTOR = 1.5


def row_gains(
    picture: np.ndarray,
    background: np.ndarray,
    road: np.ndarray,
    foreground: np.ndarray | None,
) -> np.ndarray | None:
    """Per picture row, the gain (float32, shape (height,)) that brings ``picture``'s road to
    ``background``'s; NaN for rows without road. ``picture`` and ``background`` are float32
    grey pictures (height, width); ``road`` and ``foreground`` uint8 masks (255 = road, = not
    background in the last frame; ``foreground`` None: nothing known). A row's gain is the
    median of its background / picture ratios. None when no row could be fitted."""
    fit = _Fit.of(picture, background, road, foreground)
    if fit is None:
        return None
    return fit.rows()


def cell_gains(
    picture: np.ndarray,
    background: np.ndarray,
    road: np.ndarray,
    foreground: np.ndarray | None,
) -> np.ndarray | None:
    """``CellGains().fit(...)``: one picture's cell gains, with nothing remembered."""
    return CellGains().fit(picture, background, road, foreground)


class CellGains:
    """Gains per cell of CELL_ROWS x CELL_COLS pixels of road, fitted frame after frame. A
    cell with too few free road pixels (a vehicle over it) keeps its last fitted departure
    from its rows' gain (``row_gains``), so the rows can follow a lighting step while the
    cell keeps its sun or shade."""

    def __init__(self) -> None:
        self._relative: np.ndarray | None = None  # last cell gains / their rows' gain, (down, across)

    def reset(self) -> None:
        self._relative = None

    def fit(
        self,
        picture: np.ndarray,
        background: np.ndarray,
        road: np.ndarray,
        foreground: np.ndarray | None,
        moving: np.ndarray | None = None,
        picture_gain: float | None = None,
        held: np.ndarray | None = None,
    ) -> np.ndarray | None:
        """Per pixel, the gain (float32, shape (height, width)) that brings ``picture``'s road
        to ``background``'s; NaN off the road. Same inputs as ``row_gains``; ``foreground``:
        the last frame's; ``held``: uint8 mask (255 = was foreground recently), kept out of
        the fit (``foreground`` if None); ``moving``: uint8 mask (255 = changed since the last
        pictures), kept out of the cells' fit, and out of a row's unless most of the row
        changed (``STEP_SHARE``: a step relit it): something that arrived this frame over free
        road is not light, and fitted on, it would be matched to the road at once (a fallen
        object, the front of a vehicle; beside recent traffic, which is held, an arriving
        vehicle was most of a row's free pixels and its gain, up to x2, lit the whole row:
        docs/decisions.md 175). A row left with too few pixels takes its neighbours' gain; a
        lighting step moves the rows' gain, which the cell follows. A cell's gain
        is the median of its free road pixels' background / picture ratios when at least
        MIN_PIXELS and MIN_EMPTY_SHARE of its road pixels are free, else its rows' gain times
        its last departure from it (1 at first); then a 3x3 median over the cells. A pixel
        takes, of the gains of the four cells around it and their bilinear blend, the one
        that brings it nearest the background: a shadow edge inside a cell is then followed
        to the pixel (the blend alone leaves a strip along the edge wrong by half the step).
        A lane marking (a pixel whose background is over MARKING_FACTOR times its cell's
        median road) takes its gain or ``picture_gain`` (the picture's one gain), whichever
        brings it nearer the background: headlight glow on a wet road is light added, not
        multiplied, and a gain fitted on dark asphalt over-corrects a bright marking, which then
        stands in the foreground as "debris". None when no row could be fitted."""
        fit = _Fit.of(picture, background, road, foreground)
        if fit is None:
            return None
        held_free = fit.free if held is None else fit.usable & (held[fit.crop] == 0)
        choices = [held_free]
        if moving is not None:
            changed = fit.usable & (moving[fit.crop] > 0)
            # A row mostly changed is relit (a step): fitted on all it has, as before. In a row
            # only partly changed, what changed is a newcomer, kept out; too few pixels left,
            # and the row takes its neighbours' gain.
            relit = changed.sum(axis=1) > STEP_SHARE * fit.usable.sum(axis=1)
            choices = [held_free & (relit[:, None] | ~changed)]
        rows = fit.rows(choices)
        if rows is None:
            return None
        fit.free = held_free
        height, width = fit.ratio.shape
        across, down = -(-width // CELL_COLS), -(-height // CELL_ROWS)
        pad = ((0, down * CELL_ROWS - height), (0, across * CELL_COLS - width))

        def cells(values: np.ndarray, fill: float) -> np.ndarray:
            padded = np.pad(values, pad, constant_values=fill)
            return padded.reshape(down, CELL_ROWS, across, CELL_COLS).transpose(0, 2, 1, 3).reshape(down, across, -1)

        cell_free = fit.free if moving is None else fit.free & (moving[fit.crop] == 0)
        free, usable = cells(cell_free, False), cells(fit.usable, False)
        free_count, usable_count = free.sum(axis=2), usable.sum(axis=2)
        fitted = (free_count >= MIN_PIXELS) & (free_count >= MIN_EMPTY_SHARE * usable_count)
        band = np.pad(rows[fit.top : fit.bottom], (0, pad[0][1]), mode="edge").reshape(down, CELL_ROWS)
        band = np.where(np.isnan(band), np.nanmedian(rows), band)
        band_gain = np.median(band, axis=1).astype(np.float32)[:, None]
        relative = self._relative if self._relative is not None and self._relative.shape == (down, across) else 1.0
        grid = (band_gain * relative * np.ones((1, across), np.float32)).astype(np.float32)
        if fitted.any():
            ratios = cells(np.where(cell_free, fit.ratio, np.nan), np.nan)
            grid[fitted] = _nanmedian_rows(ratios[fitted])
        # One cell's noise (a vehicle edge, a reflection) goes; a straight shadow edge stays.
        grid = cv2.medianBlur(np.ascontiguousarray(grid), 3) if min(grid.shape) >= 3 else grid
        self._relative = grid / band_gain
        blend = cv2.resize(grid, (across * CELL_COLS, down * CELL_ROWS), interpolation=cv2.INTER_LINEAR)[:height, :width]
        # Only where the four cells around a pixel disagree (an edge of light) is there a
        # choice to make; elsewhere the blend is kept (and the cost saved).
        y0, y1 = _around(height, CELL_ROWS, down)
        x0, x1 = _around(width, CELL_COLS, across)
        edged = np.pad(grid, ((0, 1), (0, 1)), mode="edge")
        quads = (edged[:-1, :-1], edged[:-1, 1:], edged[1:, :-1], edged[1:, 1:])
        spread = np.maximum.reduce(quads) / np.minimum.reduce(quads) - 1
        ys, xs = np.nonzero((spread[np.ix_(y0, x0)] > EDGE_SPREAD) & fit.usable)
        gains = blend
        if ys.size:
            candidates = np.stack([blend[ys, xs], grid[y0[ys], x0[xs]], grid[y0[ys], x1[xs]], grid[y1[ys], x0[xs]], grid[y1[ys], x1[xs]]])
            seen, empty = picture[fit.crop][ys, xs], background[fit.crop][ys, xs]
            best = np.abs(seen[None] * candidates - empty[None]).argmin(axis=0)
            gains = blend.copy()
            gains[ys, xs] = candidates[best, np.arange(ys.size)]
        if picture_gain is not None:
            gains = self._markings(gains, cells(np.where(fit.usable, background[fit.crop], np.nan), np.nan),
                                   picture[fit.crop], background[fit.crop], fit.road, picture_gain)
        out = np.full(picture.shape, np.nan, np.float32)
        out[fit.crop] = np.where(fit.road, np.clip(gains, *GAIN_BOUNDS), np.nan)
        return out


    @staticmethod
    def _markings(gains: np.ndarray, levels: np.ndarray, seen: np.ndarray, empty: np.ndarray, road: np.ndarray,
                  picture_gain: float) -> np.ndarray:
        """``gains`` with each marking's gain replaced by ``picture_gain`` where that one
        brings the marking nearer the background (``levels``: each cell's usable pixels'
        background, NaN-padded, shape (down, across, CELL_ROWS * CELL_COLS))."""
        known = (~np.isnan(levels)).any(axis=2)
        level = np.full(known.shape, np.inf, np.float32)
        if known.any():
            level[known] = _nanmedian_rows(levels[known])
        height, width = gains.shape
        level_map = np.repeat(np.repeat(level, CELL_ROWS, axis=0), CELL_COLS, axis=1)[:height, :width]
        ys, xs = np.nonzero(road & (empty > MARKING_FACTOR * level_map))
        if ys.size == 0:
            return gains
        own = gains[ys, xs]
        closer = np.abs(seen[ys, xs] * picture_gain - empty[ys, xs]) < np.abs(seen[ys, xs] * own - empty[ys, xs])
        out = gains.copy()
        out[ys[closer], xs[closer]] = picture_gain
        return out


def _around(size: int, cell: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``size`` pixels, the indices of the cells whose centres are just before and
    just after it (the same cell at the ends)."""
    position = (np.arange(size) + 0.5) / cell - 0.5
    before = np.clip(np.floor(position).astype(int), 0, count - 1)
    return before, np.clip(before + 1, 0, count - 1)


class _Fit:
    """What both fits read, cropped to the road's bounding box: each pixel's background /
    picture ratio (NaN where unusable), usable (road, neither dark nor clipped) and free
    (usable and not foreground)."""

    def __init__(self, picture: np.ndarray, background: np.ndarray, road: np.ndarray, foreground: np.ndarray | None,
                 rows: np.ndarray, top: int, bottom: int, left: int, right: int) -> None:
        self.height = picture.shape[0]
        self.top, self.bottom, self.left, self.right = top, bottom, left, right
        self.road_rows = rows
        self.crop = crop = (slice(top, bottom), slice(left, right))
        seen, empty = picture[crop], background[crop]
        self.road = road[crop] > 0
        self.usable = self.road & (seen >= USABLE_GREY[0]) & (seen <= USABLE_GREY[1]) & (empty >= USABLE_GREY[0])
        with np.errstate(divide="ignore", invalid="ignore"):
            self.ratio = np.where(self.usable, empty / np.maximum(seen, 1e-3), np.nan)
        self.free = self.usable if foreground is None else self.usable & (foreground[crop] == 0)

    @classmethod
    def of(cls, picture: np.ndarray, background: np.ndarray, road: np.ndarray, foreground: np.ndarray | None) -> "_Fit | None":
        rows = np.flatnonzero((road > 0).any(axis=1))
        if rows.size == 0:
            return None
        top, bottom = int(rows[0]), int(rows[-1]) + 1
        cols = np.flatnonzero((road[top:bottom] > 0).any(axis=0))
        return cls(picture, background, road, foreground, rows, top, bottom, int(cols[0]), int(cols[-1]) + 1)

    def rows(self, choices: list[np.ndarray] | None = None) -> np.ndarray | None:
        """``row_gains``'s answer. ``choices``: bool masks of the crop's shape, the pixels to
        fit each row on in order of preference (default: the free ones); a row is fitted on
        the first that holds MIN_PIXELS and MIN_EMPTY_SHARE of its road, else takes its
        neighbours' gain."""
        top, bottom, usable, ratio = self.top, self.bottom, self.usable, self.ratio
        usable_count = usable.sum(axis=1)
        free = np.zeros_like(usable)
        fit_free = np.zeros(bottom - top, bool)
        for choice in choices if choices is not None else [self.free]:
            count = choice.sum(axis=1)
            take = ~fit_free & (count >= MIN_PIXELS) & (count >= MIN_EMPTY_SHARE * usable_count)
            free[take] = choice[take]
            fit_free |= take
        gains = np.full(bottom - top, np.nan, np.float32)
        if fit_free.any():
            gains[fit_free] = _nanmedian_rows(np.where(free[fit_free], ratio[fit_free], np.nan))
        known = np.flatnonzero(~np.isnan(gains))
        if known.size == 0:
            return None
        # Rows without a gain take the nearest fitted rows' (linear between them, flat beyond).
        filled = np.interp(np.arange(gains.size), known, gains[known]).astype(np.float32)
        smooth = _running_median(filled, SMOOTH_ROWS)
        out = np.full(self.height, np.nan, np.float32)
        road_rows = np.zeros(bottom - top, bool)
        road_rows[self.road_rows - top] = True
        out[top:bottom] = np.where(road_rows, np.clip(smooth, *GAIN_BOUNDS), np.nan)
        return out


def _nanmedian_rows(values: np.ndarray) -> np.ndarray:
    """Median of each row of ``values`` ignoring NaN (rows are known to hold a number): a
    sort puts NaN last, the middle of the numbers is read by index (``np.nanmedian`` costs
    several times more, per frame)."""
    ordered = np.sort(values, axis=1)
    count = (~np.isnan(values)).sum(axis=1)
    lower = ordered[np.arange(len(values)), (count - 1) // 2]
    upper = ordered[np.arange(len(values)), count // 2]
    middle: np.ndarray = ((lower + upper) / 2).astype(np.float32)
    return middle


def _running_median(values: np.ndarray, width: int) -> np.ndarray:
    """Running median of a 1-D array over ``width`` (odd) samples, edges repeated."""
    half = width // 2
    padded = np.pad(values, half, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, width)
    median: np.ndarray = np.median(windows, axis=1).astype(np.float32)
    return median
