"""The ONNX detector's output layouts (YOLOv5, YOLOv8/11, YOLOX, SSD), on small models the test
writes: each answers a known head output, and the detector must decode it, keep what scores
above ``min_score`` and suppress overlapping boxes of one label (not of different labels)."""

from __future__ import annotations

import numpy as np
import pytest

from streams.detect.objects import ModelError, OnnxModel
from tests.support.onnx_tiny import fixed_output_model
from vms.config.detection import ObjectModelConfig

SIZE = 64
LABELS = ["person", "car", "truck"]
PICTURE = np.zeros((90, 160, 3), np.uint8)


def model(tmp_path, output: np.ndarray, layout: str, **config) -> OnnxModel:
    path = fixed_output_model(tmp_path / f"{layout}.onnx", output, size=SIZE)
    return OnnxModel(ObjectModelConfig(model=path, layout=layout, input_size=SIZE, labels=LABELS, min_score=0.5, **config))


def found(detector: OnnxModel) -> list[tuple[str, float, tuple]]:
    return sorted((d.label, round(d.score, 3), tuple(round(v, 3) for v in d.box)) for d in detector.detect(PICTURE))


def yolo_rows(objectness: bool) -> np.ndarray:
    """Four candidates in input pixels: two overlapping persons, one car on the first person, one weak truck."""
    rows = [
        [16, 16, 16, 32, 0.9, 0.1, 0.0],  # person, cx cy w h then class scores
        [17, 17, 16, 32, 0.8, 0.0, 0.0],  # the same person again: suppressed
        [16, 16, 16, 32, 0.0, 0.7, 0.0],  # a car on the same spot: another label, kept
        [48, 48, 8, 8, 0.0, 0.0, 0.3],  # truck below min_score
    ]
    array = np.array(rows, np.float32)
    if objectness:
        array = np.insert(array, 4, 1.0, axis=1)
    return array


EXPECTED = [("car", 0.7, (0.125, 0.0, 0.375, 0.5)), ("person", 0.9, (0.125, 0.0, 0.375, 0.5))]


def test_yolov8_and_yolo11_layout(tmp_path):
    output = yolo_rows(objectness=False).T[None]  # (1, 4 + classes, N)
    assert output.shape == (1, 7, 4)
    assert found(model(tmp_path, output, "yolov8")) == EXPECTED


def test_yolov5_layout_multiplies_objectness(tmp_path):
    rows = yolo_rows(objectness=True)
    rows[0, 4] = 0.5  # objectness halves the first person's score: the second one (0.8) now wins
    detections = found(model(tmp_path, rows[None], "yolov5"))
    assert detections[0] == EXPECTED[0]
    label, score, box = detections[1]
    assert (label, score) == ("person", 0.8) and box == (0.141, 0.016, 0.391, 0.516)  # centre (17, 17), 16 x 32


def test_yolox_raw_head_is_decoded_on_its_grid(tmp_path):
    anchors = sum((SIZE // s) ** 2 for s in (8, 16, 32))  # 64 + 16 + 4 = 84
    rows = np.zeros((anchors, 5 + len(LABELS)), np.float32)
    # Stride 8 grid, cell (x=2, y=1): centre (2 + 0.5) * 8 = 20, (1 + 0.5) * 8 = 12; size exp(log 2) * 8 = 16.
    rows[1 * 8 + 2] = [0.5, 0.5, np.log(2), np.log(2), 0.9, 1.0, 0.0, 0.0]
    # Stride 32 grid, cell (1, 1): centre (1 + 0) * 32 = 32; size exp(0) * 32 = 32; a truck.
    rows[64 + 16 + 3] = [0.0, 0.0, 0.0, 0.0, 0.8, 0.0, 0.0, 1.0]
    detections = found(model(tmp_path, rows[None], "yolox", pixel_scale=1.0, rgb=False))
    assert detections == [("person", 0.9, (0.188, 0.062, 0.438, 0.312)), ("truck", 0.8, (0.25, 0.25, 0.75, 0.75))]


def test_ssd_layout(tmp_path):
    rows = np.array([
        [0, 1, 0.95, 0.1, 0.2, 0.3, 0.6],  # car (class index 1)
        [0, 1, 0.90, 0.11, 0.21, 0.31, 0.61],  # the same car again: suppressed
        [0, 0, 0.60, 0.5, 0.5, 0.7, 0.9],  # person
        [0, 2, 0.20, 0.0, 0.0, 0.1, 0.1],  # weak truck
        [0, 7, 0.99, 0.0, 0.0, 0.1, 0.1],  # a class beyond the labels: ignored
    ], np.float32)
    detections = found(model(tmp_path, rows[None, None], "ssd"))
    assert detections == [("car", 0.95, (0.1, 0.2, 0.3, 0.6)), ("person", 0.6, (0.5, 0.5, 0.7, 0.9))]


def test_a_layout_that_does_not_fit_is_refused_clearly(tmp_path):
    with pytest.raises(ModelError, match="expected 5 \\+ 3 labels"):
        model(tmp_path, yolo_rows(objectness=False)[None], "yolov5").detect(PICTURE)
    with pytest.raises(ModelError, match="SSD model answers"):
        model(tmp_path, yolo_rows(objectness=True)[None], "ssd").detect(PICTURE)
