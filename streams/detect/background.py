"""A long-term reference background: what the empty road looks like, kept while vehicles stand.

Background subtraction that adapts quickly (MOG2) absorbs a stopped vehicle within seconds,
which is when a tunnel operator needs it most. This model learns the empty scene from the
temporal median of its first frames, then updates only where nothing is in front of it, so
a stopped vehicle stays foreground. Each foreground pixel's "standing age" (how long it has
been foreground and unchanged) tells standing from moving things; a pixel standing longer than
``absorb_seconds`` (a parked car, a new sign) is taken into the background. Global lighting
changes are divided out by matching the picture's brightness to the background's: given the
road (the zones), each cell of a few rows and columns of road by a gain of its own fitted on
the road (``road_gain.py``: lighting steps on part of a tunnel, sun and shade at a gateway),
the rest of the picture by one gain.
"""

from __future__ import annotations

import cv2
import numpy as np

from streams.detect.road_gain import CellGains

# A picture this different from the background is a scene change (lights, tampering), not traffic.
SCENE_CHANGE_FRACTION = 0.6
SCENE_CHANGE_RELEARN_SECONDS = 3.0
# Seconds of standing age an area loses per second in which it changed while still foreground.
UNSTEADY_COST = 3.0
# Road gets its own gain where it differs from the picture's by more than the fits' noise:
# under LOCAL_GAIN_BAND[0] (relative) the picture's gain, over LOCAL_GAIN_BAND[1] the local
# one, in between a blend (a hard band made gains toggle across it, docs/decisions.md 141).
LOCAL_GAIN_BAND = (0.08, 0.15)
# A pixel stays out of the road's gain fit this long after it was last foreground, so a
# vehicle that blends in for a frame or two (a dark car in shade) is not fitted as road.
FIT_HOLD_SECONDS = 3.0


class ReferenceBackground:
    def __init__(
        self,
        threshold: int = 28,
        absorb_seconds: float = 600,
        warmup_frames: int = 12,
        learn_rate: float = 0.05,
    ) -> None:
        self.threshold = threshold
        self.absorb_seconds = absorb_seconds
        self.warmup_frames = warmup_frames
        self.learn_rate = learn_rate
        self._open = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
        self._close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
        self.reset()

    def reset(self) -> None:
        self.background: np.ndarray | None = None
        self.age: np.ndarray | None = None  # seconds each pixel has stood in the foreground unchanged
        self.picture: np.ndarray | None = None  # the last picture, brightness-matched (float32)
        self.recent: np.ndarray | None = None  # running average of the last few pictures
        self.foreground: np.ndarray | None = None
        self.foreground_at: np.ndarray | None = None  # when each pixel was last foreground (seconds)
        self.road_gains = CellGains()
        self._warmup: list[np.ndarray] = []
        self._last_time: float | None = None
        self._changed_for = 0.0

    @property
    def ready(self) -> bool:
        return self.background is not None

    def apply(self, grey: np.ndarray, t: float, road: np.ndarray | None = None) -> np.ndarray | None:
        """The foreground mask (uint8, 255 = not background), or None while learning or
        while the whole scene is changing. ``grey``: uint8 (height, width); ``t``: seconds;
        ``road``: uint8 mask of the same shape, 255 on the road (the zones), whose rows get
        brightness gains of their own; None: one gain for the whole picture."""
        picture = grey.astype(np.float32)
        background, age = self.background, self.age  # set together by _learn, cleared together by reset
        if background is None or age is None or background.shape != picture.shape:
            self._learn(picture, t)
            return None
        dt = min(max(t - (self._last_time or t), 0.0), 2.0)
        self._last_time = t
        picture, steady_picture = self._match_brightness(picture, background, road, t)
        raw = (cv2.absdiff(picture, background) > self.threshold).astype(np.uint8) * 255
        foreground = cv2.morphologyEx(cv2.morphologyEx(raw, cv2.MORPH_OPEN, self._open), cv2.MORPH_CLOSE, self._close)
        if cv2.countNonZero(foreground) > SCENE_CHANGE_FRACTION * foreground.size:
            self._changed_for += dt
            if self._changed_for > SCENE_CHANGE_RELEARN_SECONDS:
                self.reset()  # the view or the lighting changed for good: learn it anew
            return None
        self._changed_for = 0.0
        # Steady against the last pictures' average, so sensor noise and compression do not
        # pass for movement; an unsteady moment costs a standing area some age, not all of it.
        # (Judged on the picture under the one gain: the rows' gains are fitted on few pixels
        # and waver from frame to frame, which would make a standing vehicle look unsteady.)
        recent = self.recent if self.recent is not None else steady_picture.copy()
        steady = cv2.absdiff(steady_picture, recent) < self.threshold / 2
        standing = (foreground > 0) & steady
        shaken = np.maximum(age - UNSTEADY_COST * dt, 0.0)
        age = np.where(standing, age + dt, np.where(foreground > 0, shaken, 0.0)).astype(np.float32)
        cv2.accumulateWeighted(steady_picture, recent, 0.5)
        self.recent = recent
        self.age = age
        absorbed = age > self.absorb_seconds
        if absorbed.any():
            background[absorbed] = picture[absorbed]
            age[absorbed] = 0
        # Learn the background only where nothing is, with a margin for blurred vehicle edges.
        empty = cv2.bitwise_not(cv2.dilate(foreground, self._close))
        cv2.accumulateWeighted(picture, background, self.learn_rate, mask=empty)
        self.picture, self.foreground = picture, foreground
        if road is not None:
            if self.foreground_at is None or self.foreground_at.shape != foreground.shape:
                self.foreground_at = np.full(foreground.shape, -np.inf, np.float32)
            self.foreground_at[foreground > 0] = t
        return foreground

    def absorb(self, mask: np.ndarray) -> None:
        """Take the picture under ``mask`` into the background now (a ghost, a relearned area)."""
        if self.background is None or self.age is None or self.picture is None:
            return
        where = mask > 0
        self.background[where] = self.picture[where]
        self.age[where] = 0
        if self.foreground is not None:
            self.foreground[where] = 0

    def _learn(self, picture: np.ndarray, t: float) -> None:
        if self._warmup and self._warmup[0].shape != picture.shape:
            self._warmup.clear()
        self._warmup.append(picture)
        self._last_time = t
        if len(self._warmup) >= self.warmup_frames:
            # The temporal median removes vehicles that pass by during learning.
            self.background = np.median(np.stack(self._warmup), axis=0).astype(np.float32)
            self.age = np.zeros_like(picture)
            self.picture = picture
            self.recent = picture.copy()
            self._warmup.clear()
        return None

    def _match_brightness(
        self, picture: np.ndarray, background_picture: np.ndarray, road: np.ndarray | None, t: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """(matched, evenly matched): ``picture`` times the gains that bring it to the
        background's brightness, and ``picture`` times the one gain for the whole picture,
        fitted on the pixels that were not foreground in the last frame. Given the road, the
        matched picture's road has one gain per cell of road (``road_gain.cell_gains``),
        fitted on the pixels not foreground in the last FIT_HOLD_SECONDS (and, in a row not
        relit as a whole, not changed since the last pictures);
        otherwise both are the same."""
        where = None if self.foreground is None else cv2.bitwise_not(self.foreground)
        scene = cv2.mean(picture, mask=where)[0]
        background = cv2.mean(background_picture, mask=where)[0]
        gain = min(max(background / scene, 0.5), 2.0) if scene >= 1 else 1.0
        evenly = picture * gain if abs(gain - 1) > 0.005 else picture
        local = None
        # The first picture after learning has no foreground yet: a cell fitted on all its
        # pixels would be fitted on the vehicles there (a dark lorry: x2), and its memory
        # then keeps that gain on the road it leaves, which stays foreground, out of the fit,
        # for good (docs/decisions.md 176). One gain, which a vehicle barely moves, until
        # a mask is known.
        if road is not None and road.shape == picture.shape and self.foreground is not None:
            held = self.foreground
            if self.foreground_at is not None and self.foreground_at.shape == picture.shape:
                held = ((t - self.foreground_at) < FIT_HOLD_SECONDS).astype(np.uint8) * 255
            moving = None
            if self.recent is not None and self.recent.shape == picture.shape:
                moving = (cv2.absdiff(evenly, self.recent) > self.threshold).astype(np.uint8) * 255
            local = self.road_gains.fit(picture, background_picture, road, self.foreground, moving, gain, held)
        if local is None or road is None:
            return evenly, evenly
        # The road keeps the picture's gain unless its own differs by more than the fits'
        # noise (a lit section, a step, sun): wavering local gains made vehicle fragments of
        # "pedestrians" after the IR switch on a gateway (docs/decisions.md 140).
        local = np.nan_to_num(local, nan=gain)
        low, high = LOCAL_GAIN_BAND
        weight = np.clip((np.abs(np.log(local / gain)) - low) / (high - low), 0.0, 1.0)
        gains = np.where(road > 0, gain * (local / gain) ** weight, gain).astype(np.float32)
        return picture * gains, evenly
