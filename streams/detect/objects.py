"""A pluggable object detector: an ONNX model run on the CPU through OpenCV's DNN module.

No model ships with vms and none is downloaded: the operator points ``objects.model`` at an
ONNX file and names its labels and output layout (see ``ObjectModelConfig``). Detections of
the wanted labels raise "object" events in the zone holding the box's centre.
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


class OnnxModel:
    def __init__(self, config: ObjectModelConfig) -> None:
        self.config = config
        if not config.model.is_file():
            raise ModelError(f"object model {config.model} not found")
        try:
            self.net = cv2.dnn.readNetFromONNX(str(config.model))
        except cv2.error as exc:
            raise ModelError(f"object model {config.model} cannot be loaded: {exc}") from None
        # OpenCV's own CPU backend is the default; nothing to choose on a box without accelerators.

    def detect(self, picture: np.ndarray) -> list[Detection]:
        size = self.config.input_size
        blob = cv2.dnn.blobFromImage(picture, 1 / 255.0, (size, size), swapRB=True, crop=False)
        self.net.setInput(blob)
        output = np.asarray(self.net.forward())
        boxes, scores = self._parse(output)
        if len(scores) == 0:
            return []
        classes = scores.argmax(axis=1)
        best = scores[np.arange(len(scores)), classes]
        keep = best >= self.config.min_score
        boxes, classes, best = boxes[keep], classes[keep], best[keep]
        if len(best) == 0:
            return []
        rects = [[float(x1), float(y1), float(x2 - x1), float(y2 - y1)] for x1, y1, x2, y2 in boxes]
        chosen = cv2.dnn.NMSBoxes(rects, best.astype(float).tolist(), self.config.min_score, self.config.nms_iou)
        labels = self.config.labels
        return [
            Detection(labels[int(classes[i])], float(best[i]), tuple(float(np.clip(v, 0, 1)) for v in boxes[i]))
            for i in np.array(chosen).reshape(-1)
        ]

    def _parse(self, output: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        classes = len(self.config.labels)
        if self.config.layout == "yolov8":
            rows = output.reshape(output.shape[-2], output.shape[-1]).T  # (N, 4 + classes)
            if rows.shape[1] != 4 + classes:
                raise ModelError(f"model answers {rows.shape[1]} values per box, expected 4 + {classes} labels")
            size = float(self.config.input_size)
            cx, cy, w, h = (rows[:, i] / size for i in range(4))
            boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
            return boxes, rows[:, 4:]
        rows = output.reshape(-1, output.shape[-1])  # (N, 4 + classes)
        if rows.shape[1] != 4 + classes:
            raise ModelError(f"model answers {rows.shape[1]} values per box, expected 4 + {classes} labels")
        return rows[:, :4], rows[:, 4:]


class ObjectDetector(Detector):
    name = "objects"

    def __init__(self, config: CameraDetection, model: ObjectModel | None = None) -> None:
        if config.objects is None:
            raise ValueError("camera has no object model configured")
        self.config = config.objects
        self.model = model or OnnxModel(config.objects)
        self.masks = ZoneMasks(config)
        self.zone_ids = [z.id for z in config.zones] if config.zones else [None]
        self.wanted = set(self.config.detect or self.config.labels)
        self._last_run: float | None = None
        self._latches: dict[tuple[str | None, str], Latch] = {}
        self._seen: dict[tuple[str | None, str], Detection] = {}

    def process(self, frame: Frame) -> list[EventSignal]:
        t = frame.wall_time
        if self._last_run is None or t - self._last_run >= self.config.every_seconds:
            self._last_run = t
            self._evaluate(frame)
        return [
            EventSignal("object", key[0], score=round(self._seen[key].score, 3), since=latch.onset,
                        box=self._seen[key].box, key=key[1], details={"label": key[1]})
            for key, latch in self._latches.items()
            if latch.active and key in self._seen
        ]

    def _evaluate(self, frame: Frame) -> None:
        _, zones = self.masks.at(frame.size)
        width, height = frame.size
        found: dict[tuple[str | None, str], Detection] = {}
        for detection in self.model.detect(frame.colour()):
            if detection.label not in self.wanted:
                continue
            x1, y1, x2, y2 = detection.box
            cx, cy = min(int((x1 + x2) / 2 * width), width - 1), min(int((y1 + y2) / 2 * height), height - 1)
            for zone_id in self.zone_ids:
                if zones[zone_id][cy, cx] > 0:
                    key = (zone_id, detection.label)
                    if key not in found or detection.score > found[key].score:
                        found[key] = detection
        hold = max(1.5 * self.config.every_seconds, 1.0)
        for key in set(found) | set(self._latches):
            latch = self._latches.setdefault(key, Latch(off_seconds=hold))
            latch.update(frame.wall_time, key in found)
            if key in found:
                self._seen[key] = found[key]
