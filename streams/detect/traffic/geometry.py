"""Box arithmetic shared by the traffic rules: pixel boxes (x1, y1, x2, y2), overlaps, zones."""

from __future__ import annotations

import numpy as np

from streams.detect.base import Box, Frame
from streams.detect.tracker import Blob, Track

PixelBox = tuple[int, int, int, int]  # x1, y1, x2, y2 in pixels of the analysed picture


def blob_box(blob: Blob) -> PixelBox:
    return (blob.x, blob.y, blob.x + blob.w, blob.y + blob.h)


def track_box(track: Track) -> PixelBox:
    return blob_box(track.blob)


def grow(box: PixelBox, pixels: int) -> PixelBox:
    return (box[0] - pixels, box[1] - pixels, box[2] + pixels, box[3] + pixels)


def overlap(a: PixelBox, b: PixelBox) -> float:
    """Intersection over the smaller box's area (0..1)."""
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy / smaller if smaller > 0 else 0.0


def near(a: Blob, b: Blob, margin: int) -> bool:
    """``a`` grown by ``margin`` pixels on every side overlaps ``b``."""
    ax1, ay1, ax2, ay2 = a.grown(margin)
    return ax1 < b.x + b.w and b.x < ax2 and ay1 < b.y + b.h and b.y < ay2


def inside(blob: Blob, mask: np.ndarray) -> bool:
    """Where the blob touches the road (its bottom middle) lies in the zone ``mask`` (uint8, H x W)."""
    cx, cy = blob.x + blob.w / 2, blob.y + blob.h - 1
    return bool(mask[min(int(cy), mask.shape[0] - 1), min(int(cx), mask.shape[1] - 1)] > 0)


def fraction_box(box: PixelBox, frame: Frame) -> Box:
    """A pixel box as fractions of the picture, as events carry it."""
    width, height = frame.size
    x1, y1, x2, y2 = box
    return (x1 / width, y1 / height, x2 / width, y2 / height)
