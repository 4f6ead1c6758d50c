"""A building's shadow creeping across a sunlit road is not smoke.

At a gateway the edge of a building's shadow slowly crosses the road. A cell the shadow's
edge has left is brighter and has lost an edge, which is what smoke does to the walls and
lights it hides; but the edge was the light's, on plain asphalt with hardly any structure of
its own. A cell must have structure to lose before it is judged. Smoke over a facade with
windows is still raised."""

from __future__ import annotations

import cv2
import numpy as np

from streams.detect.base import Frame
from streams.detect.smoke import SmokeDetector
from vms.config.detection import CameraDetection

WIDTH, HEIGHT, FPS = 320, 180, 5
EPOCH = 1_764_561_000.0


def _asphalt(rng: np.random.Generator) -> np.ndarray:
    """Plain asphalt: a faint grain, as a compressed picture keeps it (float32, grey)."""
    grain = cv2.GaussianBlur(rng.normal(0, 6, (HEIGHT, WIDTH)).astype(np.float32), (0, 0), 1.5)
    return 90 + grain


def _sunlit(asphalt: np.ndarray, edge_x: float) -> np.ndarray:
    """The road with sun right of ``edge_x`` (x 1.5) and a building's soft shadow left of it."""
    x = np.arange(WIDTH, dtype=np.float32)
    light = 1.0 + 0.5 / (1.0 + np.exp(-(x - edge_x) / 1.5))  # a penumbra a few pixels wide
    return np.clip(asphalt * light[None, :], 0, 255).astype(np.uint8)


def _raised(pictures) -> list[float]:
    detector = SmokeDetector(CameraDetection(fps=FPS, smoke={"enabled": True}, motion={"enabled": False}))
    raised = []
    for i, picture in enumerate(pictures):
        if detector.process(Frame("cam", EPOCH + i / FPS, picture, (WIDTH, HEIGHT))):
            raised.append(i / FPS)
    return raised


def test_a_shadow_edge_leaving_plain_asphalt_is_not_smoke():
    asphalt = _asphalt(np.random.default_rng(5))
    # The shadow's edge rests at x = 100 while the reference is learned, then creeps 80 px
    # to the left over two minutes, and stays there.
    pictures = [_sunlit(asphalt, 100 - 80 * min(1.0, max(0.0, (i / FPS - 20) / 120))) for i in range(200 * FPS)]
    assert _raised(pictures) == []


def test_smoke_over_a_facade_is_still_raised():
    rng = np.random.default_rng(5)
    facade = cv2.resize(rng.integers(40, 220, (HEIGHT // 10, WIDTH // 10)).astype(np.uint8), (WIDTH, HEIGHT),
                        interpolation=cv2.INTER_NEAREST)
    smoky = facade.copy()
    half = smoky[:, : WIDTH // 2].astype(np.float32)
    smoky[:, : WIDTH // 2] = (0.25 * half + 0.75 * 165).astype(np.uint8)
    raised = _raised([facade] * (20 * FPS) + [smoky] * (20 * FPS))
    assert raised and 20 + 8 <= raised[0] <= 20 + 10, raised[:3]
