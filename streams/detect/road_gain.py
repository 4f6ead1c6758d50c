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
"""

from __future__ import annotations

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
    rows = np.flatnonzero((road > 0).any(axis=1))
    if rows.size == 0:
        return None
    top, bottom = int(rows[0]), int(rows[-1]) + 1
    cols = np.flatnonzero((road[top:bottom] > 0).any(axis=0))
    left, right = int(cols[0]), int(cols[-1]) + 1
    crop = (slice(top, bottom), slice(left, right))
    seen, empty = picture[crop], background[crop]
    usable = (road[crop] > 0) & (seen >= USABLE_GREY[0]) & (seen <= USABLE_GREY[1]) & (empty >= USABLE_GREY[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(usable, empty / np.maximum(seen, 1e-3), np.nan)
    if foreground is None:
        free = usable
    else:
        free = usable & (foreground[crop] == 0)
    free_count, usable_count = free.sum(axis=1), usable.sum(axis=1)
    fit_free = (free_count >= MIN_PIXELS) & (free_count >= MIN_EMPTY_SHARE * usable_count)
    gains = np.full(bottom - top, np.nan, np.float32)
    if fit_free.any():
        gains[fit_free] = _nanmedian_rows(np.where(free[fit_free], ratio[fit_free], np.nan))
    known = np.flatnonzero(~np.isnan(gains))
    if known.size == 0:
        return None
    # Rows without a gain take the nearest fitted rows' (linear between them, flat beyond).
    filled = np.interp(np.arange(gains.size), known, gains[known]).astype(np.float32)
    smooth = _running_median(filled, SMOOTH_ROWS)
    out = np.full(picture.shape[0], np.nan, np.float32)
    road_rows = np.zeros(bottom - top, bool)
    road_rows[rows - top] = True
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
