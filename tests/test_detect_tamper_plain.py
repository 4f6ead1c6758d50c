"""Tamper on a plain view (the simulator's road scene over RTSP): flat asphalt, full-width lane
lines, solid vehicles, a clock at the top and a changing block strip at the bottom. Its only
corners lie in the border ORB leaves out, so the reference view has no features; a demo trial
saw "camera moved" raised for good, which switches traffic detection off for the camera."""

from __future__ import annotations

import cv2
import numpy as np

from streams.detect.base import Frame
from streams.detect.tamper import TamperDetector
from vms.config.detection import CameraDetection

SIZE = (320, 180)
FPS = 5


def _road(t: float, rng: np.random.Generator) -> np.ndarray:
    """The road scene at ``t`` seconds, as the simulator draws it (grey, 320x180)."""
    width, height = SIZE
    picture = np.full((height, width), 80, np.uint8)  # verge
    picture[40:158] = 90  # asphalt
    for y, level in ((43, 230), (69, 210), (98, 200), (128, 210), (155, 230)):
        picture[y : y + 2] = level  # lane lines, edge to edge
    # Vehicles: solid boxes crossing the picture at a steady speed, in both directions.
    for lane_y, box_w, box_h, level, crossing, phase in ((48, 38, 16, 60, -5.0, 0.1), (47, 83, 18, 224, -5.0, 0.6),
                                                          (76, 35, 16, 70, -3.2, 0.4), (106, 38, 16, 180, 3.5, 0.3),
                                                          (135, 77, 18, 110, 6.5, 0.0)):
        span = width + box_w
        travelled = int(((t / abs(crossing) + phase) % 1.0) * span)
        x = travelled - box_w if crossing > 0 else span - box_w - travelled
        picture[lane_y : lane_y + box_h, max(0, x) : max(0, x + box_w)] = level
    # The on-screen clock (top border) and the block timecode (bottom border) change every frame.
    picture[8:24, 8:150] = 0
    cv2.putText(picture, f"ROAD 02 04:09:{t:06.3f}", (10, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.35, 255, 1)
    blocks = rng.integers(0, 2, 32).repeat(width // 32).astype(np.uint8) * 255
    picture[172:] = blocks
    return picture


def _events(pictures) -> list[str]:
    detector = TamperDetector(CameraDetection())
    raised = []
    for index, picture in enumerate(pictures):
        raised += [s.type for s in detector.process(Frame("cam", 1_764_561_000.0 + index / FPS, picture, SIZE))]
    return raised


def test_a_plain_view_with_traffic_is_not_moved():
    rng = np.random.default_rng(7)
    raised = _events(_road(i / FPS, rng) for i in range(60 * FPS))
    assert "tamper_moved" not in raised


def test_a_plain_view_turned_away_is_still_moved():
    rng = np.random.default_rng(7)
    road = [_road(i / FPS, rng) for i in range(20 * FPS)]
    # Turned towards the buildings: a facade of windows where the lanes ran across.
    elsewhere = np.kron(rng.integers(40, 220, (SIZE[1] // 6, SIZE[0] // 8)), np.ones((6, 8))).astype(np.uint8)
    raised = _events(road + [elsewhere] * (10 * FPS))
    assert "tamper_moved" in raised
