"""Rasterise normalised polygons (zones, masks) to pixel masks of the analysis size."""

from __future__ import annotations

import cv2
import numpy as np

from vms.config.detection import CameraDetection, Point


def polygon_mask(polygon: list[Point] | tuple[Point, ...], size: tuple[int, int]) -> np.ndarray:
    """uint8 mask (255 inside) of ``polygon`` on a picture of ``size`` = (width, height)."""
    width, height = size
    mask = np.zeros((height, width), np.uint8)
    points = np.array([[round(x * (width - 1)), round(y * (height - 1))] for x, y in polygon], np.int32)
    cv2.fillPoly(mask, [points], 255)
    return mask


class ZoneMasks:
    """The camera's zones and its ignore mask at one picture size, computed once per size."""

    def __init__(self, config: CameraDetection) -> None:
        self.config = config
        self._cache: dict[tuple[int, int], tuple[np.ndarray, dict[str | None, np.ndarray]]] = {}

    def at(self, size: tuple[int, int]) -> tuple[np.ndarray, dict[str | None, np.ndarray]]:
        """(valid, zones): ``valid`` is 255 where detection looks (outside every mask);
        ``zones`` maps zone id to its mask with the ignored areas removed. Without zones the
        whole picture is one zone, id None."""
        if size not in self._cache:
            self._cache[size] = _build(self.config, size)
        return self._cache[size]


def _build(config: CameraDetection, size: tuple[int, int]) -> tuple[np.ndarray, dict[str | None, np.ndarray]]:
    width, height = size
    valid = np.full((height, width), 255, np.uint8)
    for mask in config.masks:
        valid[polygon_mask(mask.polygon, size) > 0] = 0
    zones: dict[str | None, np.ndarray] = {}
    if config.zones:
        for zone in config.zones:
            zones[zone.id] = cv2.bitwise_and(polygon_mask(zone.polygon, size), valid)
    else:
        zones[None] = valid.copy()
    return valid, zones

