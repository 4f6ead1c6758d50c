"""A lighting step that saturates the tunnel's bright tiles is exposure, not defocus: the
tamper detector compares sharpness with the learned view at the pixels it can judge now
(docs/decisions.md 111). A blurred lens is still defocus."""

from __future__ import annotations

import cv2

from bench.aid import analyse_clip
from streams.detect.base import Frame
from streams.detect.tamper import TamperDetector
from tests.support.aid_scenes import detection_config
from tests.test_detect_aid import scene


def test_brightening_step_that_clips_the_tiles_is_not_defocus(tmp_path):
    built = scene("tunnel", 7, 40, noise=2.5, crf=28, steps=[(20.0, 1.6, "all")])
    built.prepare()
    result = analyse_clip(built, True, str(tmp_path))
    assert not [e for e in result.events if e[0].startswith("tamper")], result.events


def test_blurred_lens_is_still_defocus():
    built = scene("tunnel", 7, 30, noise=2.5).prepare()
    tamper = TamperDetector(detection_config(built.view))
    raised = []
    for t, picture in built.frames():
        grey = cv2.cvtColor(picture, cv2.COLOR_BGR2GRAY)
        if t >= 15.0:
            grey = cv2.GaussianBlur(grey, (0, 0), 2.0)
        frame = Frame("cam", 1_800_000_000.0 + t, grey, (grey.shape[1], grey.shape[0]))
        raised += [(t, s.type) for s in tamper.process(frame)]
    assert raised and all(kind == "tamper_defocus" for _, kind in raised), raised
    assert 15.0 <= raised[0][0] <= 17.5, raised
