"""Event detection on decoded frames: motion, traffic analytics, smoke, tampering, objects, health.

Each camera with detection enabled gets a ``DetectionPipeline`` (``pipeline.py``) fed by its
packet fan-out; ``DetectionManager`` (``manager.py``) keeps one per camera of a worker.
"""

from __future__ import annotations

from streams.detect.base import Detector, EventSignal, Frame
from vms.config.detection import CameraDetection


def build_detectors(config: CameraDetection) -> list[Detector]:
    """The detectors ``config`` asks for, cheapest first."""
    from streams.detect.motion import MotionDetector
    from streams.detect.tamper import TamperDetector
    from streams.detect.traffic import TrafficAnalytics

    detectors: list[Detector] = []
    if config.tamper.enabled:
        detectors.append(TamperDetector(config))
    if config.motion.enabled:
        detectors.append(MotionDetector(config))
    if config.traffic.enabled and config.zones:
        detectors.append(TrafficAnalytics(config))
    if config.smoke.enabled:
        from streams.detect.smoke import SmokeDetector

        detectors.append(SmokeDetector(config))
    if config.objects is not None:
        from streams.detect.objects import ObjectDetector

        detectors.append(ObjectDetector(config))
    return detectors


__all__ = ["Detector", "EventSignal", "Frame", "build_detectors"]
