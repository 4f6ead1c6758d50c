"""A pluggable object detector: an ONNX model run on the CPU through OpenCV's DNN module, or
OpenCV's pretrained HOG people detector.

No model ships with vms and none is downloaded: the operator points ``objects.model`` at an
ONNX file and names its labels and output layout (YOLOv5, YOLOv8/11, YOLOX, SSD or plain
boxes; see ``ObjectModelConfig``), or chooses ``detector: hog_people``. Detections of the
wanted labels raise one "object" event per zone and label, holding the count and the boxes
(the zone is the one holding the box's centre).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from streams.detect.base import Box, Detector, EventSignal, Frame
from streams.detect.latch import Latch
from streams.detect.zones import ZoneMasks
from vms.config.detection import CameraDetection, ObjectModelConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Detection:
    label: str
    score: float
    box: Box  # x1, y1, x2, y2 as fractions of the picture


class ObjectModel(Protocol):
    """Anything that finds objects in a BGR picture."""

    def detect(self, picture: np.ndarray) -> list[Detection]: ...


class ModelError(RuntimeError):
    """The model cannot be loaded or does not answer in the configured layout."""


YOLOX_STRIDES = (8, 16, 32)


class OnnxModel:
    def __init__(self, config: ObjectModelConfig) -> None:
        self.config = config
        if config.model is None or not config.model.is_file():
            raise ModelError(f"object model {config.model} not found")
        try:
            self.net = cv2.dnn.readNetFromONNX(str(config.model))
        except cv2.error as exc:
            raise ModelError(f"object model {config.model} cannot be loaded: {exc}") from None
        # OpenCV's own CPU backend is the default; nothing to choose on a box without accelerators.

    def detect(self, picture: np.ndarray) -> list[Detection]:
        size = self.config.input_size
        blob = cv2.dnn.blobFromImage(picture, self.config.pixel_scale, (size, size), swapRB=self.config.rgb, crop=False)
        self.net.setInput(blob)
        output = np.asarray(self.net.forward(), np.float32)
        boxes, scores = self._parse(output)
        if len(scores) == 0:
            return []
        classes = scores.argmax(axis=1)
        best = scores[np.arange(len(scores)), classes]
        return suppress(boxes, classes, best, self.config)

    def _parse(self, output: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(boxes (N, 4) as x1, y1, x2, y2 in 0..1, class scores (N, classes)) of ``output``."""
        classes = len(self.config.labels)
        layout = self.config.layout
        size = float(self.config.input_size)
        if layout == "ssd":
            if output.ndim != 4 or output.shape[-1] != 7:
                raise ModelError(f"an SSD model answers (1, 1, N, 7); this one answers {tuple(output.shape)}")
            rows = output.reshape(-1, 7)
            index = rows[:, 1].astype(int)
            valid = (index >= 0) & (index < classes)
            rows, index = rows[valid], index[valid]
            scores = np.zeros((len(rows), classes), np.float32)
            scores[np.arange(len(rows)), index] = rows[:, 2]
            return rows[:, 3:7], scores
        if layout == "yolov8":
            rows = output.reshape(output.shape[-2], output.shape[-1]).T  # (N, 4 + classes)
            _expect(rows, 4 + classes, classes, "4")
            return _centre_boxes(rows, size), rows[:, 4:]
        if layout in ("yolov5", "yolox"):
            rows = output.reshape(-1, output.shape[-1])  # (N, 5 + classes)
            _expect(rows, 5 + classes, classes, "5")
            if layout == "yolox" and len(rows) == sum((int(size) // s) ** 2 for s in YOLOX_STRIDES):
                rows = _yolox_decode(rows, int(size))
            return _centre_boxes(rows, size), rows[:, 5:] * rows[:, 4:5]
        rows = output.reshape(-1, output.shape[-1])  # (N, 4 + classes)
        _expect(rows, 4 + classes, classes, "4")
        return rows[:, :4], rows[:, 4:]


def suppress(boxes: np.ndarray, classes: np.ndarray, scores: np.ndarray, config: ObjectModelConfig) -> list[Detection]:
    """Detections above ``min_score`` left after non-maximum suppression within each label."""
    keep = scores >= config.min_score
    boxes, classes, scores = boxes[keep], classes[keep], scores[keep]
    if len(scores) == 0:
        return []
    rects = [[float(x1), float(y1), float(x2 - x1), float(y2 - y1)] for x1, y1, x2, y2 in boxes]
    chosen = cv2.dnn.NMSBoxesBatched(rects, scores.astype(float).tolist(), classes.astype(int).tolist(),
                                     config.min_score, config.nms_iou)
    return [
        Detection(config.labels[int(classes[i])], float(scores[i]), tuple(float(np.clip(v, 0, 1)) for v in boxes[i]))
        for i in np.array(chosen).reshape(-1)
    ]


def _expect(rows: np.ndarray, width: int, classes: int, head: str) -> None:
    if rows.shape[1] != width:
        raise ModelError(f"model answers {rows.shape[1]} values per box, expected {head} + {classes} labels")


def _centre_boxes(rows: np.ndarray, size: float) -> np.ndarray:
    cx, cy, w, h = (rows[:, i] / size for i in range(4))
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


def _yolox_decode(rows: np.ndarray, size: int) -> np.ndarray:
    """Raw YOLOX head output to boxes in input pixels: offsets on each stride's grid, log sizes."""
    grids, strides = [], []
    for stride in YOLOX_STRIDES:
        cells = size // stride
        ys, xs = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        grids.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        strides.append(np.full((cells * cells, 1), stride))
    grid, scale = np.concatenate(grids).astype(np.float32), np.concatenate(strides).astype(np.float32)
    decoded = rows.copy()
    decoded[:, :2] = (rows[:, :2] + grid) * scale
    decoded[:, 2:4] = np.exp(np.clip(rows[:, 2:4], -10, 10)) * scale
    return decoded


class HogPeople:
    """OpenCV's pretrained HOG + linear SVM people detector (Dalal & Triggs; weights ship inside
    OpenCV 4.x, none in 5.x, hence the pin). Finds upright people at least 128 px tall at
    ``hog_width``; scores are SVM margins, ``min_score`` around 0.3-1.0."""

    def __init__(self, config: ObjectModelConfig) -> None:
        if not hasattr(cv2, "HOGDescriptor_getDefaultPeopleDetector"):
            raise ModelError("this OpenCV has no HOG people detector (OpenCV 5 dropped it; vms pins opencv < 5)")
        self.config = config
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def detect(self, picture: np.ndarray) -> list[Detection]:
        height, width = picture.shape[:2]
        scale = min(1.0, self.config.hog_width / width) if width > self.config.hog_width else self.config.hog_width / width
        if abs(scale - 1) > 0.01:
            picture = cv2.resize(picture, (round(width * scale), round(height * scale)))
        found, weights = self.hog.detectMultiScale(picture, winStride=(8, 8), padding=(8, 8), scale=1.05)
        if len(found) == 0:
            return []
        h, w = picture.shape[:2]
        boxes = np.array([(x / w, y / h, (x + bw) / w, (y + bh) / h) for x, y, bw, bh in found], np.float32)
        scores = np.asarray(weights, np.float32).reshape(-1)
        return suppress(boxes, np.zeros(len(boxes), int), scores, self.config)


def load_model(config: ObjectModelConfig) -> ObjectModel:
    return HogPeople(config) if config.detector == "hog_people" else OnnxModel(config)


class ObjectDetector(Detector):
    name = "objects"

    def __init__(self, config: CameraDetection, model: ObjectModel | None = None) -> None:
        if config.objects is None:
            raise ValueError("camera has no object model configured")
        self.config = config.objects
        self.model = model or load_model(config.objects)
        self.masks = ZoneMasks(config)
        self.zone_ids = [z.id for z in config.zones] if config.zones else [None]
        self.wanted = set(self.config.detect or self.config.labels)
        self._last_run: float | None = None
        self._latches: dict[tuple[str | None, str], Latch] = {}
        self._seen: dict[tuple[str | None, str], list[Detection]] = {}

    def process(self, frame: Frame) -> list[EventSignal]:
        t = frame.wall_time
        if self._last_run is None or t - self._last_run >= self.config.every_seconds:
            self._last_run = t
            self._evaluate(frame)
        return [
            EventSignal("object", key[0], score=round(self._seen[key][0].score, 3), since=latch.onset,
                        box=self._seen[key][0].box, key=key[1],
                        details={"label": key[1], "count": len(self._seen[key]),
                                 "boxes": [[round(v, 4) for v in d.box] for d in self._seen[key]]})
            for key, latch in self._latches.items()
            if latch.active and key in self._seen
        ]

    def count(self, zone_id: str | None, label: str) -> int:
        """How many ``label`` objects the last look found in the zone (e.g. people in a lane)."""
        return len(self._seen.get((zone_id, label), [])) if self._latches.get((zone_id, label)) and self._latches[(zone_id, label)].active else 0

    def _evaluate(self, frame: Frame) -> None:
        _, zones = self.masks.at(frame.size)
        width, height = frame.size
        found: dict[tuple[str | None, str], list[Detection]] = {}
        for detection in self.model.detect(frame.colour()):
            if detection.label not in self.wanted:
                continue
            x1, y1, x2, y2 = detection.box
            cx, cy = min(int((x1 + x2) / 2 * width), width - 1), min(int((y1 + y2) / 2 * height), height - 1)
            for zone_id in self.zone_ids:
                if zones[zone_id][cy, cx] > 0:
                    found.setdefault((zone_id, detection.label), []).append(detection)
        hold = max(1.5 * self.config.every_seconds, 1.0)
        for key in set(found) | set(self._latches):
            latch = self._latches.setdefault(key, Latch(off_seconds=hold))
            latch.update(frame.wall_time, key in found)
            if key in found:
                self._seen[key] = sorted(found[key], key=lambda d: -d.score)
