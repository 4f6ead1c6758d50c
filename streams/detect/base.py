"""What detectors see and say: a Frame in, the conditions active now (EventSignals) out."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded picture for analysis: grey, downscaled, with the time it was taken."""

    camera_id: str
    wall_time: float  # UTC epoch seconds, from the packet's presentation time
    array: np.ndarray  # uint8, shape (height, width)
    size: tuple[int, int]  # (width, height) of ``array``
    # The decoded picture at full size and in colour, for snapshots and models that need colour;
    # None when frames come from elsewhere.
    source: av.VideoFrame | None = None

    def colour(self, width: int | None = None) -> np.ndarray:
        """BGR picture at most ``width`` pixels wide (keeping the aspect), from the source if there is one."""
        if self.source is not None:
            w = min(width or self.source.width, self.source.width)
            h = max(2, round(self.source.height * w / self.source.width / 2) * 2)
            return self.source.reformat(width=w, height=h, format="bgr24").to_ndarray()
        import cv2

        grey = self.array
        if width and width < self.size[0]:
            grey = cv2.resize(grey, (width, round(self.size[1] * width / self.size[0])))
        return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)


Box = tuple[float, float, float, float]  # x1, y1, x2, y2 as fractions of the picture


@dataclass(frozen=True, slots=True)
class EventSignal:
    """A condition that holds at this frame (already debounced by the detector).

    The pipeline opens an event when a (type, zone, key) first appears and ends it at the
    first frame it is missing.
    """

    type: str
    zone: str | None = None
    score: float = 1.0
    # When the condition began, if before this frame (e.g. when the vehicle came to rest).
    since: float | None = None
    box: Box | None = None
    key: str | None = None  # tells apart simultaneous events of one type in one zone
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def identity(self) -> tuple[str, str | None, str | None]:
        return (self.type, self.zone, self.key)


class Detector(abc.ABC):
    """One analysis of one camera's frames; keeps whatever state it needs between frames."""

    name: str = "detector"

    @property
    def picture_unreliable(self) -> bool:
        """True while this detector judges the picture unfit for analysis (see TamperDetector);
        the pipeline then skips the detectors after it and resets them when the picture is back."""
        return False

    @abc.abstractmethod
    def process(self, frame: Frame) -> list[EventSignal]:
        """The conditions active at ``frame``."""

    def on_gap(self) -> None:
        """The stream stopped; the next frame may come after a long gap or from a changed scene."""
