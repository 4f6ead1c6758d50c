"""A lighting step on part of a tunnel is divided out row by row on the road
(``streams/detect/road_gain.py``, docs/decisions.md 126 and 140): the part the step did not
relight does not stay foreground, so passing vehicles do not "halt" on it; vehicles stay out
of the fit."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from streams.detect.background import ReferenceBackground
from streams.detect.road_gain import CellGains, cell_gains, row_gains
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


# -- sun and shade at a gateway (docs/decisions.md 142, 160) ----------------------------------

SIZE = (180, 320)  # the analysis size (rows, columns)


def _gateway_road() -> np.ndarray:
    """A 3-lane road seen along its axis: a trapezoid from the picture's bottom to row 60."""
    road = np.zeros(SIZE, np.uint8)
    cv2.fillConvexPoly(road, np.array([[20, 179], [300, 179], [180, 60], [140, 60]], np.int32), 255)
    return road


def _sunlit() -> np.ndarray:
    """Right of a building's shadow edge, which runs along the road (towards the vanishing
    point), so every row of road is part sun, part shade."""
    rows, cols = np.mgrid[0 : SIZE[0], 0 : SIZE[1]]
    return (cols - 160) > 0.6 * (rows - 60)


def test_a_row_half_in_sun_half_in_shade_gets_both_gains():
    empty = _textured(3, SIZE)
    road, sunlit = _gateway_road(), _sunlit()
    seen = empty.copy()
    seen[sunlit] *= 1.6
    gains = cell_gains(seen, empty, road, None)
    assert gains is not None and np.isnan(gains[road == 0]).all()
    off = np.abs(seen * np.nan_to_num(gains, nan=1.0) - empty) > THRESHOLD
    on_road = road > 0
    # Each side of the edge on its own: the row's one gain left one side all wrong.
    assert off[on_road & sunlit].mean() < 0.02 and off[on_road & ~sunlit].mean() < 0.02


def test_the_ir_switch_vignette_across_a_row_is_divided_out():
    """The camera's IR switch brings a vignette (x0.65 at the ends of a row, x1 in the middle):
    one gain per row cannot follow it across the row."""
    empty = _textured(4, SIZE)
    road = _gateway_road()
    x = np.linspace(-1, 1, SIZE[1], dtype=np.float32)
    y = np.linspace(-1, 1, SIZE[0], dtype=np.float32)
    seen = empty * 1.25 * (1.0 - 0.35 * (x[None, :] ** 2 + y[:, None] ** 2)) + 10
    gains = cell_gains(seen, empty, road, None)
    assert gains is not None
    off = np.abs(seen * np.nan_to_num(gains, nan=1.0) - empty) > THRESHOLD
    assert off[road > 0].mean() < 0.02


def test_a_vehicle_over_most_of_a_cell_does_not_pull_its_gain():
    empty = _textured(5, SIZE)
    road = _gateway_road()
    seen = empty * 0.7
    seen[130:160, 100:150] = 200.0  # a light vehicle, foreground
    foreground = np.zeros_like(road)
    foreground[128:162, 98:152] = 255
    gains = cell_gains(seen, empty, road, foreground)
    assert gains is not None
    np.testing.assert_allclose(gains[road > 0], 1 / 0.7, atol=0.03)


def _frames_with_a_cloud(seed: int, vehicle: bool):
    """(t, grey picture, vehicle mask): 4 s of a sunlit gateway (sunlit side x1.8, the corpus's
    strongest sun), then a cloud dims the sun to x1.24 (its deepest cloud) over 1.5 s, as the
    corpus's clouds do (tests/support/aid_scenes.py), and keeps it so; with
    ``vehicle`` a dark vehicle stands across the shadow edge from 3 s on. Sensor noise 3 grey
    levels."""
    rng = np.random.default_rng(seed)
    empty = _textured(seed, SIZE) * 1.3
    sunlit = _sunlit()
    car = np.zeros(SIZE, bool)
    car[120:150, 150:215] = vehicle
    for i in range(50):
        t = i / 5
        picture = empty.copy()
        if t >= 3:
            picture[car] = 25.0
        picture[sunlit] *= 1.8 - (1.8 - 1.24) * min(max((t - 4) / 1.5, 0.0), 1.0)
        picture += rng.normal(0, 3, SIZE).astype(np.float32)
        yield t, np.clip(picture, 0, 255).astype(np.uint8), car


@pytest.mark.parametrize("vehicle", [False, True], ids=["empty road", "standing vehicle"])
def test_a_cloud_over_the_sun_leaves_neither_side_of_the_shadow_foreground(vehicle):
    """A cloud passes at a gateway whose building shadow runs along the road: neither the
    sunlit nor the shaded road stays foreground (with one gain per row one side did), and a
    vehicle standing across the edge stays foreground (it is not fitted as road)."""
    road, sunlit = _gateway_road(), _sunlit()
    model = ReferenceBackground(THRESHOLD)
    checked = 0
    for t, picture, car in _frames_with_a_cloud(6, vehicle):
        foreground = model.apply(picture, t, road)
        if foreground is None or t < 4:  # the learning
            continue
        checked += 1
        clear = (road > 0) & ~cv2.dilate(car.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
        for side in (sunlit, ~sunlit):
            assert np.mean(foreground[clear & side] > 0) < 0.05, (t, "sunlit" if side is sunlit else "shaded")
        if vehicle:
            assert np.mean(foreground[car] > 0) > 0.9, t
    assert checked >= 28


def test_a_vehicle_that_blends_in_for_a_frame_is_not_fitted_as_road():
    """A light vehicle standing over several cells of road drops out of the foreground for one
    frame (painted as the road: a blink of exposure, a dropped frame); the next frames' fit
    must not take it for road. It stays out of the fit for FIT_HOLD_SECONDS after it was last
    foreground, so it comes back as foreground; fitted as road, the cells under it would take
    the gain that matches it to the road and keep it background for good."""
    rng = np.random.default_rng(7)
    empty = _textured(7, SIZE)
    road = _gateway_road()
    car = np.zeros(SIZE, bool)
    car[110:160, 120:190] = True
    model = ReferenceBackground(THRESHOLD)
    shares = []
    for i in range(45):
        t = i / 5
        picture = empty.copy()
        if t >= 3 and i != 25:  # the blink at 5 s
            picture[car] = 170.0
        picture += rng.normal(0, 3, SIZE).astype(np.float32)
        foreground = model.apply(np.clip(picture, 0, 255).astype(np.uint8), t, road)
        if foreground is not None and t >= 5.4:
            shares.append(float(np.mean(foreground[car] > 0)))
    assert len(shares) >= 15 and min(shares) > 0.9, shares


def test_a_lane_marking_under_headlight_glow_keeps_the_pictures_gain():
    """Headlight glow on a wet road is light added, not multiplied: a gain fitted on dark
    asphalt over-corrects a bright lane marking, which then stood in the foreground as
    "debris" (tunnel clip 1, docs/decisions.md 163). A marking takes the picture's gain where
    that one brings it nearer the background."""
    empty = _textured(8, SIZE) * 0.6
    marking = np.zeros(SIZE, np.uint8)
    cv2.line(marking, (158, 62), (90, 178), 255, 3)
    road = _gateway_road()
    empty[marking > 0] = 200.0
    seen = empty + 20.0 * (road > 0)  # the glow over the road
    on_marking = (marking > 0) & (road > 0)

    def off(gains: np.ndarray) -> float:
        return float(np.mean(np.abs(seen * np.nan_to_num(gains, nan=1.0) - empty)[on_marking] > THRESHOLD))

    own = CellGains().fit(seen, empty, road, None)
    kept = CellGains().fit(seen, empty, road, None, picture_gain=1.0)
    assert own is not None and kept is not None
    assert off(own) > 0.5  # the road's own gain alone: the marking stands out
    assert off(kept) < 0.05


def test_a_vehicle_arriving_beside_recent_traffic_is_not_fitted_as_road():
    """A lorry has just passed in one outer lane, so for FIT_HOLD_SECONDS a third of the near
    rows is held out of the fit; then a light lorry comes in the other outer lane, and a dark
    car in the middle one. Fitted on all that is not held, each newcomer was most of what its
    rows were fitted on: the lorry matched to the road (never foreground), the car's gain to
    the road (x2) lighting its rows (``wrong_way-gateway-102`` lost, docs/decisions.md 175).
    What changed since the last pictures, in a row not relit as a whole, is left out."""
    rng = np.random.default_rng(9)
    empty = _textured(9, SIZE)
    road = _gateway_road()
    left, right, car = np.zeros(SIZE, bool), np.zeros(SIZE, bool), np.zeros(SIZE, bool)
    left[115:180, :130], right[115:180, 190:], car[130:180, 135:185] = True, True, True
    model = ReferenceBackground(THRESHOLD)
    lorry, around_car = [], []
    for i in range(37):
        t = i / 5
        picture = empty.copy()
        if 2.6 <= t < 3.0:
            picture[left] = 180.0
        if 4.0 <= t < 4.4:
            picture[right] = 180.0
        if t >= 4.8:
            picture[car] = 20.0
        picture += rng.normal(0, 3, SIZE).astype(np.float32)
        foreground = model.apply(np.clip(picture, 0, 255).astype(np.uint8), t, road)
        if foreground is None:
            continue
        if 4.0 <= t < 4.4:
            lorry.append(float(np.mean(foreground[right & (road > 0)] > 0)))
        if t >= 4.8:
            clear = (road > 0) & ~cv2.dilate(car.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
            around_car.append(float(np.mean(foreground[clear] > 0)))
    assert len(lorry) == 2 and min(lorry) > 0.9, lorry
    assert len(around_car) >= 8 and max(around_car) < 0.05, around_car


def test_a_vehicle_in_the_first_picture_after_learning_leaves_no_lit_cells():
    """A dark vehicle stands in the last pictures of the learning (not in their median, so
    not in the background) and in the first one after it, then drives off. With no foreground
    known yet, the cells were fitted on it (x2), kept that gain in their memory while it was
    foreground, and the road it left stood in the foreground for good (tunnel slowdown clip 1,
    docs/decisions.md 176). The first picture takes the one gain."""
    rng = np.random.default_rng(10)
    empty = _textured(10, SIZE)
    road = _gateway_road()
    car = np.zeros(SIZE, bool)
    car[120:170, 140:200] = True
    model = ReferenceBackground(THRESHOLD)
    shares = []
    for i in range(40):
        t = i / 5
        picture = empty.copy()
        if 1.8 <= t < 3.0:  # frames 9-14: the learning takes frames 0-11
            picture[car] = 20.0
        picture += rng.normal(0, 3, SIZE).astype(np.float32)
        foreground = model.apply(np.clip(picture, 0, 255).astype(np.uint8), t, road)
        if foreground is not None and t >= 4.0:
            shares.append(float(np.mean(foreground[car] > 0)))
    assert len(shares) >= 15 and max(shares) < 0.05, shares


def test_a_light_lorry_over_most_of_the_free_rows_is_foreground_from_its_first_frame():
    """A dark car stands in one outer lane (foreground); a light lorry then arrives over most of
    the rest of the same rows in one frame. Fitted on every pixel not held out of the fit,
    those rows took the lorry's gain to the road (x0.5) and matched it to the road (quiet
    tunnel clip 100's false stopped vehicles, docs/decisions.md 175); what changed, in a row
    not relit as a whole, is left out."""
    rng = np.random.default_rng(11)
    empty = _textured(11, SIZE)
    road = _gateway_road()
    car, lorry = np.zeros(SIZE, bool), np.zeros(SIZE, bool)
    car[110:180, :100], lorry[140:180, 125:230] = True, True
    model = ReferenceBackground(THRESHOLD)
    shares = []
    for i in range(28):
        t = i / 5
        picture = empty.copy()
        if t >= 3.0:
            picture[car] = 20.0
        if t >= 5.0:
            picture[lorry] = 180.0
        picture += rng.normal(0, 3, SIZE).astype(np.float32)
        foreground = model.apply(np.clip(picture, 0, 255).astype(np.uint8), t, road)
        if foreground is not None and t >= 5.0:
            shares.append(float(np.mean(foreground[lorry & (road > 0)] > 0)))
    assert len(shares) >= 3 and min(shares) > 0.9, shares
