"""Metric calibration: four picture points with known road positions make sizes metres and
speeds km/h; a car far away is small in pixels but still a car."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from streams.detect.calibration import GroundPlane
from streams.detect.classify import Classifier
from streams.detect.tracker import Blob, Track
from tests.support.aid_world import View
from vms.config.detection import CalibrationConfig, CameraDetection, TrafficConfig

VIEW = View("tunnel")
SIZE = (VIEW.width, VIEW.height)


def car_blob(x: float, y: float, width: float = 1.8, height: float = 1.5) -> Blob:
    """The picture box of an upright object of ``width`` x ``height`` m standing at road point (x, y)."""
    u1, v1 = VIEW.project(x - width / 2, y, height)
    u2, v2 = VIEW.project(x + width / 2, y, 0.0)
    return Blob(int(round(u1)), int(round(v1)), int(round(u2 - u1)), int(round(v2 - v1)), int((u2 - u1) * (v2 - v1)))


def test_the_homography_puts_picture_points_back_on_the_road():
    plane = GroundPlane(VIEW.calibration(), SIZE)
    for x, y in [(0.0, 20.0), (-3.5, 40.0), (4.0, 60.0)]:
        u, v = VIEW.project(x, y)
        assert plane.ground(float(u), float(v)) == pytest.approx((x, y), abs=0.05 * y / 20)


@pytest.mark.parametrize("distance", [15.0, 30.0, 55.0])
def test_a_car_is_1_8_m_wide_near_and_far(distance):
    plane = GroundPlane(VIEW.calibration(), SIZE)
    blob = car_blob(0.0, distance)
    width, height = plane.size(blob)
    assert width == pytest.approx(1.8, abs=0.25 * distance / 15)
    assert height == pytest.approx(1.5, abs=0.25 * distance / 15)
    classifier = Classifier(TrafficConfig(), plane, SIZE)
    assert classifier.vehicle_blob(blob)
    assert not classifier.vehicle_blob(car_blob(0.0, distance, width=0.5, height=1.7))  # a person there


def test_speed_is_km_h_and_a_person_walks():
    plane = GroundPlane(VIEW.calibration(), SIZE)
    classifier = Classifier(TrafficConfig(pedestrian_seconds=1), plane, SIZE)
    car, walker = Track(1, car_blob(0, 20), 0, 0), Track(2, car_blob(-3, 20, 0.5, 1.75), 0, 0)
    for i in range(11):
        t = i / 5
        for track, blob in ((car, car_blob(0, 20 + 16.7 * t)), (walker, car_blob(-3, 20 + 1.3 * t, 0.5, 1.75))):
            track.add(blob, t)
            track.place(t, *plane.foot(blob))
            track.sizes.append(plane.size(blob))
    assert classifier.speed_kmh(car) == pytest.approx(60, rel=0.15)
    assert classifier.vehicle(car) and not classifier.person(car, 2.0)
    assert classifier.speed_kmh(walker) == pytest.approx(4.7, abs=1.5)
    assert classifier.person(walker, 2.0) and not classifier.vehicle(walker)


def test_calibration_points_are_checked():
    good = VIEW.calibration()
    with pytest.raises(ValidationError, match="on one line"):
        CalibrationConfig(picture=good.picture, ground=[(0, 0), (1, 1), (2, 2), (0, 5)])
    with pytest.raises(ValidationError, match="outside the picture"):
        CalibrationConfig(picture=[(0.1, 0.1), (1.2, 0.1), (0.9, 0.9), (0.1, 0.9)], ground=good.ground)
    with pytest.raises(ValidationError):
        CalibrationConfig(picture=good.picture[:3], ground=good.ground[:3])
    assert CameraDetection(calibration=good.model_dump()).calibration == good
