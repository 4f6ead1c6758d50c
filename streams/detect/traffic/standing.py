"""Areas that stand still in the foreground, and which of them are things.

The reference background (``background.py``) keeps each foreground pixel's standing age.
``StandingAreas`` groups standing pixels into areas, takes each area's typical (median) age,
and learns away the areas that are not things that arrived: "ghosts" (the trace of something
that was in the background when it was learned and has left: the outline's edges are in the
background, not in the picture) and the same surface under other light (``same_surface``).
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from streams.detect.background import ReferenceBackground
from streams.detect.classify import same_surface
from streams.detect.traffic.geometry import PixelBox
from streams.detect.tracker import Blob, find_blobs

# Pixels standing this long (seconds) make a standing area.
STANDING_SECONDS = 1.0
# Share of a standing thing's box that must stay foreground for it to count as still there.
STILL_THERE = 0.5

Want = Callable[[Blob, np.ndarray], bool]


class StandingAreas:
    def __init__(self, background: ReferenceBackground) -> None:
        self.background = background

    def find(self, mask: np.ndarray, seconds: float, min_area: int, want: Want) -> tuple[Blob, float] | None:
        """The largest area inside ``mask`` (uint8 zone mask) that has stood unchanged
        ``seconds`` (median of its pixels' standing ages) and that ``want(blob, region)``
        accepts: (blob, seconds it has stood). Ghosts and relit surfaces met on the way are
        absorbed into the background."""
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
            if self.is_ghost(region) or same_surface(picture, empty, region):
                self.absorb(region)
                continue
            if want(blob, region):
                return blob, stood
        return None

    def sweep_ghosts(self, min_area: int) -> None:
        """Learn away standing areas of at least ``min_area`` pixels that are traces of what
        has left, not things that arrived (e.g. vehicles that were in the picture while the
        background was learned)."""
        age = self.background.age
        if age is None:
            return  # nothing learned yet: nothing stands
        standing = (age >= STANDING_SECONDS).astype(np.uint8) * 255
        for blob in find_blobs(standing, min_area):
            region = np.zeros_like(standing)
            box = (slice(blob.y, blob.y + blob.h), slice(blob.x, blob.x + blob.w))
            region[box] = standing[box]
            if self.is_ghost(region):
                self.absorb(region)

    def is_ghost(self, region: np.ndarray) -> bool:
        """True when the region's (uint8 mask) outline has its edges in the background, not
        in the picture: something that was there has left, nothing has arrived."""
        picture, background = self.background.picture, self.background.background
        if picture is None or background is None:
            return False  # nothing learned yet: nothing can have left
        outline = cv2.morphologyEx(region, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
        if not outline.any():
            return False

        def edges(image: np.ndarray) -> float:
            gx = cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3)
            gy = cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=3)
            return float(cv2.magnitude(gx, gy)[outline].mean())

        return edges(picture) < 0.7 * edges(background)

    def absorb(self, region: np.ndarray) -> None:
        """Take ``region`` (uint8 mask), with a margin for blurred edges, into the background."""
        self.background.absorb(cv2.dilate(region, np.ones((5, 5), np.uint8)))


def still_there(foreground: np.ndarray, box: PixelBox) -> bool:
    """Most of ``box`` is still foreground: what stood there has not left."""
    x1, y1, x2, y2 = box
    inside = foreground[y1:y2, x1:x2]
    return bool(inside.size > 0 and cv2.countNonZero(inside) >= STILL_THERE * inside.size)
