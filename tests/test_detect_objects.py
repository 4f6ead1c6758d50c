"""The ONNX object detector, on a tiny model this test writes itself (no weights downloaded)."""

from __future__ import annotations

import numpy as np
import pytest

from streams.detect.base import Frame
from streams.detect.objects import ModelError, ObjectDetector, OnnxModel
from tests.support.onnx_tiny import brightness_detector
from tests.support.scenes import encode, run_scene, scenario, tunnel_detection
from vms.config.detection import CameraDetection, ObjectModelConfig, ZoneConfig


@pytest.fixture
def model_path(tmp_path):
    return brightness_detector(tmp_path / "tiny.onnx")


def frame_of(level: int, t: float = 0.0) -> Frame:
    array = np.full((90, 160), level, np.uint8)
    return Frame("cam", t, array, (160, 90))


def test_the_onnx_model_loads_and_answers_through_opencv(model_path):
    model = OnnxModel(ObjectModelConfig(model=model_path, labels=["dark", "bright"], input_size=32, min_score=0.8))
    [bright] = model.detect(np.full((90, 160, 3), 240, np.uint8))
    assert bright.label == "bright" and bright.score == pytest.approx(240 / 255, abs=0.01)
    assert bright.box == pytest.approx((0.25, 0.25, 0.75, 0.75))
    [dark] = model.detect(np.full((90, 160, 3), 10, np.uint8))
    assert dark.label == "dark"
    assert model.detect(np.full((90, 160, 3), 128, np.uint8)) == []  # neither is sure enough


def test_unusable_models_are_refused_clearly(model_path, tmp_path):
    with pytest.raises(ModelError, match="not found"):
        OnnxModel(ObjectModelConfig(model=tmp_path / "missing.onnx", labels=["x"]))
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="cannot be loaded"):
        OnnxModel(ObjectModelConfig(model=tmp_path / "junk.onnx", labels=["x"]))
    model = OnnxModel(ObjectModelConfig(model=model_path, labels=["a", "b", "c"], input_size=32))
    with pytest.raises(ModelError, match="expected 4 \\+ 3 labels"):
        model.detect(np.zeros((32, 32, 3), np.uint8))


def test_detections_become_object_events_in_the_zone_holding_them(model_path):
    objects = ObjectModelConfig(model=model_path, labels=["dark", "bright"], detect=["bright"], input_size=32,
                                min_score=0.8, every_seconds=0)
    centre = ZoneConfig(id="centre", polygon=[(0.2, 0.2), (0.8, 0.2), (0.8, 0.8), (0.2, 0.8)])
    corner = ZoneConfig(id="corner", polygon=[(0, 0), (0.1, 0), (0.1, 0.1)])
    detector = ObjectDetector(CameraDetection(zones=[centre, corner], objects=objects))
    assert detector.process(frame_of(10, 0.0)) == []  # "dark" is not wanted
    [signal] = detector.process(frame_of(250, 1.0))
    assert (signal.type, signal.zone, signal.key, signal.details["label"]) == ("object", "centre", "bright", "bright")
    assert signal.score > 0.95
    assert detector.process(frame_of(250, 1.2))  # still there
    assert detector.process(frame_of(10, 1.4))  # held briefly across a miss
    assert detector.process(frame_of(10, 3.0)) == []


def test_object_events_through_the_pipeline(model_path):
    # The lights go out (tampering checks off, which would otherwise suspend analysis of a dark
    # picture): the tiny model calls the picture "dark" with confidence.
    objects = ObjectModelConfig(model=model_path, labels=["dark", "bright"], detect=["dark"], input_size=32,
                                min_score=0.9, every_seconds=0.5)
    scene = scenario("covered", 0)
    encoded = encode(scene)
    log, _ = run_scene(encoded, tunnel_detection(objects=objects, tamper={"enabled": False}))
    [event] = log.of("object")
    assert event.details["label"] == "dark" and event.zone == "tube"
    assert scene.covered_at <= encoded.scene_time(event.detected_at) <= scene.covered_at + 2
