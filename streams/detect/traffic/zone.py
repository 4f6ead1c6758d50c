"""What one zone remembers between frames: each rule's latch and what it last saw."""

from __future__ import annotations

from collections import deque

from streams.detect.latch import Latch
from streams.detect.traffic.lane_flow import LaneProfile
from streams.detect.traffic.geometry import PixelBox
from streams.detect.tracker import Track
from vms.config.detection import ZoneConfig


class ZoneState:
    def __init__(self, zone: ZoneConfig, end_seconds: float) -> None:
        self.zone = zone
        self.end_seconds = end_seconds
        self.reset()

    def reset(self) -> None:
        """Forget everything seen in the zone (after a gap in the stream)."""
        zone, end_seconds = self.zone, self.end_seconds
        self.occupancy = 0.0
        self.congestion = Latch(on_seconds=zone.congestion_seconds)
        self.congestion_off_since: float | None = None
        self.stopped = Latch(off_seconds=end_seconds)
        self.stopped_box: PixelBox | None = None
        self.stopped_since: float | None = None
        self.wrong_way = Latch(off_seconds=end_seconds)
        self.wrong_way_track: Track | None = None
        self.pedestrian = Latch(off_seconds=end_seconds)
        self.pedestrian_track: Track | None = None
        self.pedestrian_count = 0
        self.debris = Latch(off_seconds=end_seconds)
        self.debris_box: PixelBox | None = None
        self.debris_since: float | None = None
        self.slowdown = Latch(on_seconds=zone.slowdown_seconds, off_seconds=max(end_seconds, 3 * zone.slowdown_seconds))
        self.crawling: deque[tuple[float, int, float, float]] = deque()  # (t, track id, x, y) crawling in the window
        self.speeds: deque[tuple[float, int, float]] = deque()  # (t, track id, km/h) of vehicles in the zone
        self.halts: deque[tuple[float, PixelBox]] = deque()  # where confirmed vehicles halted
        self.lane: LaneProfile | None = None  # the lane's occupancy profile (calibrated cameras)
        self.lane_size: tuple[int, int] | None = None  # the picture size ``lane`` was built (or refused) for
        self.flow: deque[tuple[float, float | None]] = deque()  # (t, lane speed km/h or None) in the window
        self.direction: tuple[float, float] | None = None  # the zone's direction on the road


def has_rules(zone: ZoneConfig) -> bool:
    """The zone asks for at least one traffic rule."""
    return bool(zone.direction or zone.vehicle_only or zone.stopped_seconds or zone.congestion_occupancy
                or zone.debris_seconds or zone.slowdown_kmh)
