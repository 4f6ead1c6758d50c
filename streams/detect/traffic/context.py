"""What every traffic rule sees of one analysed frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streams.detect.base import Frame
from streams.detect.classify import Classifier
from streams.detect.traffic.standing import StandingAreas
from streams.detect.tracker import Blob, Tracker
from vms.config.detection import TrafficConfig


@dataclass(frozen=True, slots=True)
class Sight:
    frame: Frame
    foreground: np.ndarray  # uint8 mask (H x W), 255 = not background, zones' valid area only
    blobs: list[Blob]  # every foreground blob of this frame
    vehicles: list[Blob]  # the blobs sized as vehicles
    classifier: Classifier
    tracker: Tracker  # every live track (``tracker.tracks``), not only those seen now
    standing: StandingAreas
    traffic: TrafficConfig

    @property
    def t(self) -> float:
        return self.frame.wall_time
