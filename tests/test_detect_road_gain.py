"""A lighting step on part of a tunnel is divided out row by row on the road
(``streams/detect/road_gain.py``, docs/decisions.md 126 and 140): the part the step did not
relight does not stay foreground, so passing vehicles do not "halt" on it; vehicles stay out
of the fit."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from streams.detect.background import ReferenceBackground
from streams.detect.road_gain import row_gains
from streams.detect.zones import ZoneMasks
from tests.support.aid_scenes import detection_config
from tests.support.aid_world import background
from tests.test_detect_aid import scene

THRESHOLD = 28  # the traffic detector's default difference threshold (grey levels)


def _textured(seed: int = 0, shape=(120, 200)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.uniform(40, 140, shape).astype(np.float32), (0, 0), 1.0)


def test_two_lit_sections_get_a_gain_each_with_a_sharp_edge():
    empty = _textured()
    road = np.zeros(empty.shape, np.uint8)
    road[20:, 30:170] = 255
    lit = empty.copy()
    lit[60:] *= 1.6  # the near section of the tube relit: rows 60 and below
    gains = row_gains(lit, empty, road, None)
    assert gains is not None and np.isnan(gains[:20]).all()
    np.testing.assert_allclose(gains[20:60], 1.0, atol=0.02)
    np.testing.assert_allclose(gains[60:], 1 / 1.6, atol=0.02)


def test_a_vehicle_in_the_foreground_does_not_pull_the_gain():
    empty = _textured(1)
    road = np.zeros(empty.shape, np.uint8)
    road[20:, 30:170] = 255
    seen = empty * 0.8
    seen[50:90, 40:140] = 15.0  # a dark vehicle over most of those rows' road
    foreground = np.zeros_like(road)
    foreground[48:92, 38:142] = 255
    gains = row_gains(seen, empty, road, foreground)
    assert gains is not None
    np.testing.assert_allclose(gains[20:], 1 / 0.8, atol=0.03)


def test_rows_filled_with_vehicles_take_their_neighbours_gain():
    empty = _textured(2)
    road = np.zeros(empty.shape, np.uint8)
    road[20:, 30:170] = 255
    queue = empty * 1.2
    # Vehicles side by side, painted dark, light and middling, over rows 70-99.
    queue[70:100, 30:77], queue[70:100, 77:124], queue[70:100, 124:170] = 20.0, 200.0, 120.0
    foreground = np.zeros_like(road)
    foreground[68:102] = 255
    gains = row_gains(queue, empty, road, foreground)
    assert gains is not None
    np.testing.assert_allclose(gains[20:], 1 / 1.2, atol=0.03)


def _road(view) -> np.ndarray:
    _, zones = ZoneMasks(detection_config(view)).at((view.width, view.height))
    road = np.zeros((view.height, view.width), np.uint8)
    for mask in zones.values():
        road |= mask
    return road


@pytest.mark.parametrize("step", [(12.0, 0.6, "near"), (12.0, 1.6, "far")])
def test_the_part_a_step_did_not_relight_does_not_stay_foreground(step):
    """Light traffic, a step on one part of the tube: the road beyond 45 m (the far part) is
    back to background within 3 s. With one gain for the picture (the old model) it stayed
    about 95 % foreground for the 20 s watched."""
    built = scene("tunnel", 11, 35, lanes=(0, 2), steps=[step], noise=4).prepare()
    road = _road(built.view)
    far_road = (background(built.view, built.seed).depth > 45) & (road > 0)
    model = ReferenceBackground(THRESHOLD)
    shares = []
    for t, picture in built.frames():
        foreground = model.apply(cv2.cvtColor(picture, cv2.COLOR_BGR2GRAY), t, road)
        if foreground is not None and t >= step[0] + 3:
            shares.append(float(np.mean(foreground[far_road] > 0)))
    assert len(shares) > 50 and float(np.mean(shares)) < 0.35, shares
