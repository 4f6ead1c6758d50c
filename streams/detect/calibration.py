"""Picture to road: a camera's ground-plane homography, so sizes are metres and speeds km/h.

Built from four picture points and their ground positions (``CalibrationConfig``). A blob's
ground position is the middle of its bottom edge (where a vehicle or person touches the
road); its width and height in metres use the ground scale at that point, which for a
camera without roll equals the scale of an upright object standing there (both shrink as
1 / distance in a pinhole camera). An uncalibrated camera gets ``PixelScale``: positions in
fractions of the picture width, and no metric sizes, so the rules fall back to pixel areas.
"""

from __future__ import annotations

import cv2
import numpy as np

from streams.detect.tracker import Blob
from vms.config.detection import CalibrationConfig


class GroundPlane:
    metric = True

    def __init__(self, config: CalibrationConfig, size: tuple[int, int]) -> None:
        width, height = size
        picture = np.array([(x * width, y * height) for x, y in config.picture], np.float32)
        ground = np.array(config.ground, np.float32)
        self.to_road = cv2.getPerspectiveTransform(picture, ground)
        self.to_picture = cv2.getPerspectiveTransform(ground, picture)

    def ground(self, u: float, v: float) -> tuple[float, float]:
        """Road coordinates (metres) of picture pixel (u, v)."""
        point = cv2.perspectiveTransform(np.array([[[u, v]]], np.float32), self.to_road)[0, 0]
        return float(point[0]), float(point[1])

    def scale(self, u: float, v: float) -> float:
        """Metres per pixel across the picture at (u, v)."""
        (x1, y1), (x2, y2) = self.ground(u - 0.5, v), self.ground(u + 0.5, v)
        return float(np.hypot(x2 - x1, y2 - y1))

    def foot(self, blob: Blob) -> tuple[float, float]:
        return self.ground(blob.x + blob.w / 2, blob.y + blob.h)

    def size(self, blob: Blob) -> tuple[float, float]:
        """(width, height) of ``blob`` in metres, taken as upright where it touches the road."""
        scale = self.scale(blob.x + blob.w / 2, blob.y + blob.h)
        return blob.w * scale, blob.h * scale

    def direction(self, u: float, v: float, du: float, dv: float) -> tuple[float, float]:
        """Unit road vector of a picture direction (du, dv) starting at (u, v)."""
        (x1, y1), (x2, y2) = self.ground(u, v), self.ground(u + 4 * du, v + 4 * dv)
        length = float(np.hypot(x2 - x1, y2 - y1)) or 1.0
        return (x2 - x1) / length, (y2 - y1) / length


class PixelScale:
    """No calibration: positions in fractions of the picture width, no metric sizes."""

    metric = False

    def __init__(self, size: tuple[int, int]) -> None:
        self.width = size[0]

    def foot(self, blob: Blob) -> tuple[float, float]:
        return (blob.x + blob.w / 2) / self.width, (blob.y + blob.h) / self.width

    def direction(self, u: float, v: float, du: float, dv: float) -> tuple[float, float]:
        length = float(np.hypot(du, dv)) or 1.0
        return du / length, dv / length
