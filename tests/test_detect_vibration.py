"""A camera shaken by passing lorries: the picture moves by a pixel or two, every edge of the
scene moves with it, and the reference background must not read those edges as things (they
were tracked as pedestrians and debris). A vehicle arriving meanwhile is still foreground."""

from __future__ import annotations

import cv2
import numpy as np

from streams.detect.background import ReferenceBackground
from streams.detect.tracker import find_blobs

SIZE = (320, 180)


def _tunnel(rng: np.random.Generator) -> np.ndarray:
    """A tunnel wall and road with sharp structure: lamps, tile joints, lane dashes (grey)."""
    width, height = SIZE
    picture = np.full((height, width), 60, np.uint8)
    picture[:60] = 110  # wall
    for x in range(0, width, 24):
        picture[:60, x : x + 2] = 40  # tile joints
        picture[8:14, x + 8 : x + 16] = 235  # lamps
    for x in range(0, width, 40):
        picture[120:123, x : x + 20] = 220  # lane dashes
    picture[60:62] = 200  # kerb
    return cv2.add(picture, rng.integers(0, 4, picture.shape, dtype=np.uint8))


def _shaken(picture: np.ndarray, dx: float, dy: float) -> np.ndarray:
    return cv2.warpAffine(picture, np.float32([[1, 0, dx], [0, 1, dy]]), SIZE, borderMode=cv2.BORDER_REFLECT)


def test_a_shaken_view_makes_no_foreground_things_and_a_vehicle_still_shows():
    rng = np.random.default_rng(3)
    scene = _tunnel(rng)
    background = ReferenceBackground()
    t = 0.0
    for _ in range(background.warmup_frames):
        background.apply(scene, t)
        t += 0.2
    blobs = []
    for _ in range(50):  # 10 s of vibration, as the AID corpus shakes its cameras
        dx, dy = np.clip(rng.normal(0, 1.2, 2), -2, 2)
        foreground = background.apply(_shaken(scene, dx, dy), t)
        assert foreground is not None
        blobs += find_blobs(foreground, 4)
        t += 0.2
    assert blobs == [], f"the shaken scene's edges read as things: {blobs[:5]}"
    with_vehicle = scene.copy()
    cv2.rectangle(with_vehicle, (150, 100), (180, 125), 170, -1)
    foreground = background.apply(_shaken(with_vehicle, 1, -1), t)
    assert foreground is not None
    [vehicle] = find_blobs(foreground, 4)
    assert vehicle.w >= 26 and vehicle.h >= 20
