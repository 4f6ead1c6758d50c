"""Smoke persistence is measured in seconds at real wall-clock times (epoch ~1.8e9 s, where a
float32 steps by 128 s): a cell smoky for a moment must not "last", real smoke must be raised
after ``seconds``, whatever the time of day."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from streams.detect.base import Frame
from streams.detect.smoke import SmokeDetector
from vms.config.detection import CameraDetection

WIDTH, HEIGHT, FPS = 320, 180, 5
EPOCH = 1_800_000_000.0  # a multiple of 128 s: float32 rounds the times around it


def _pictures() -> tuple[np.ndarray, np.ndarray]:
    """A textured view, and the same view with its left half under a grey haze (edges lost)."""
    rng = np.random.default_rng(3)
    clear = cv2.resize(rng.integers(40, 220, (HEIGHT // 6, WIDTH // 6)).astype(np.uint8), (WIDTH, HEIGHT),
                       interpolation=cv2.INTER_NEAREST)
    smoky = clear.copy()
    half = smoky[:, : WIDTH // 2].astype(np.float32)
    smoky[:, : WIDTH // 2] = (0.15 * half + 0.85 * 160).astype(np.uint8)
    return clear, smoky


def _smoke_times(start: float, smoky_for: float) -> list[float]:
    """Seconds after ``start`` at which smoke is signalled, smoke showing from ``start`` for ``smoky_for`` s."""
    config = CameraDetection(fps=FPS, smoke={"enabled": True, "learn_seconds": 2}, motion={"enabled": False})
    detector = SmokeDetector(config)
    clear, smoky = _pictures()
    raised = []
    for i in range(-5 * FPS, int(40 * FPS)):
        t = start + i / FPS
        picture = smoky if 0 <= i / FPS < smoky_for else clear
        if detector.process(Frame("cam", t, picture, (WIDTH, HEIGHT))):
            raised.append(round(i / FPS, 1))
    return raised


@pytest.mark.parametrize("offset", [63.0, 65.0, 127.0])
def test_smoke_is_raised_after_its_seconds_at_any_wall_time(offset):
    seconds = SmokeDetector(CameraDetection(smoke={"enabled": True})).config.seconds
    raised = _smoke_times(EPOCH + offset, smoky_for=30)
    assert raised, "lasting smoke was not raised"
    assert seconds <= raised[0] <= seconds + 1, raised[:3]


@pytest.mark.parametrize("offset", [63.0, 191.5])
def test_a_moment_of_lost_edges_is_not_smoke(offset):
    assert _smoke_times(EPOCH + offset, smoky_for=3) == []
