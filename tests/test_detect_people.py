"""People as objects: OpenCV's HOG people detector counts the persons in frames of OpenCV's
sample ``vtest.avi`` (Debian package opencv-doc) against counts made by eye, and person
counts reach the events."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from bench.people import frames, truth
from streams.detect.base import Frame
from streams.detect.objects import HogPeople, ObjectDetector
from vms.config.detection import CameraDetection, ObjectModelConfig, ZoneConfig

CLIP, COUNTS = truth()
needs_clip = pytest.mark.skipif(not CLIP.is_file(), reason=f"{CLIP} absent: install the Debian package opencv-doc")
HOG = ObjectModelConfig(detector="hog_people", hog_width=1152, min_score=0.6, nms_iou=0.3, every_seconds=0)


@needs_clip
def test_hog_counts_people_in_vtest_within_one():
    chosen = {200: COUNTS[200], 500: COUNTS[500]}  # two frames: HOG costs seconds per frame here
    model = HogPeople(HOG)
    for index, picture in frames(CLIP, set(chosen)):
        count = len(model.detect(picture))
        assert abs(count - chosen[index]) <= 1, f"frame {index}: counted {count}, truth {chosen[index]}"


@needs_clip
def test_person_events_carry_the_count_and_every_box():
    [(index, picture)] = list(frames(CLIP, {500}))
    grey = cv2.cvtColor(picture, cv2.COLOR_BGR2GRAY)
    frame = Frame("cam", 1.0, grey, (grey.shape[1], grey.shape[0]))  # no colour source: HOG reads grey
    road = ZoneConfig(id="square", polygon=[(0, 0.25), (1, 0.25), (1, 1), (0, 1)])
    detector = ObjectDetector(CameraDetection(zones=[road], objects=HOG))
    [signal] = detector.process(frame)
    assert signal.type == "object" and signal.details["label"] == "person" and signal.zone == "square"
    assert abs(signal.details["count"] - COUNTS[500]) <= 1
    assert len(signal.details["boxes"]) == signal.details["count"]


def test_hog_needs_opencv_4():
    assert cv2.__version__.startswith("4."), "vms pins opencv < 5: OpenCV 5 dropped the HOG people detector"
    assert not HogPeople(HOG).detect(np.zeros((240, 320, 3), np.uint8))
