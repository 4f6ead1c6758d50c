"""The world an AID camera looks at: a road in perspective, in metres, and the traffic on it.

Ground coordinates: X across the road (metres, right positive), Y along it away from the
camera (metres), Z up. The camera hangs ``camera_height`` above X = 0 looking along the road,
without roll: a ground point (X, Y) appears at ``u = cx + f X / Y``, ``v = horizon + f H / Y``
(a pinhole camera), so the ground plane maps to the picture by a homography, which is what a
site calibrates (``View.calibration``). Tunnel: a tube with walls and a lit ceiling, traffic
away from the camera. Gateway: an open road between buildings, traffic towards the camera.

Traffic is simulated per lane at the frame rate (a follow-the-leader rule: keep a gap of
``MIN_GAP`` metres plus ``HEADWAY`` seconds), so slowdowns build real queues; each vehicle's
trajectory is stored per frame and is the ground truth.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import cv2
import numpy as np

from vms.config.detection import ZoneConfig

MIN_GAP, HEADWAY = 2.5, 1.0
ACCELERATION, BRAKING = 2.0, 4.0  # m/s²
ENTER_NEAR, ENTER_FAR = 4.0, 160.0  # where vehicles appear and vanish (outside the zones)
ZONE_NEAR_MARGIN, ZONE_FAR = 1.0, 70.0  # lanes are watched from the picture's bottom to this far
PAINTS = [(235, 235, 230), (190, 190, 195), (30, 30, 35), (75, 30, 20), (40, 200, 230), (110, 130, 240), (20, 20, 60), (90, 90, 90)]


@dataclass(frozen=True)
class View:
    kind: str = "tunnel"  # "tunnel" or "gateway"
    width: int = 320
    height: int = 180
    lanes: int = 3
    lane_width: float = 3.5
    camera_height: float = 6.0

    @property
    def f(self) -> float:
        return 0.75 * self.width

    @property
    def horizon(self) -> float:
        return 0.2 * self.height

    @property
    def flow(self) -> int:
        """+1: traffic drives away from the camera (tunnel); -1: towards it (gateway)."""
        return 1 if self.kind == "tunnel" else -1

    @property
    def near(self) -> float:
        """Distance (m) of the ground seen at the picture's bottom edge."""
        return self.f * self.camera_height / (self.height - self.horizon)

    def project(self, x, y, z=0.0):
        """Picture pixels (u, v) of ground-frame points (arrays or floats, y > 0)."""
        y = np.maximum(np.asarray(y, np.float64), 0.1)
        return self.width / 2 + self.f * np.asarray(x) / y, self.horizon + self.f * (self.camera_height - np.asarray(z)) / y

    def lane_x(self, lane: int) -> float:
        return (lane - (self.lanes - 1) / 2) * self.lane_width

    def road_half(self) -> float:
        return self.lanes * self.lane_width / 2

    def lane_polygon(self, lane: int) -> list[tuple[float, float]]:
        """The lane as a zone polygon (fractions of the picture), from the bottom edge to ZONE_FAR."""
        x1, x2 = self.lane_x(lane) - self.lane_width / 2, self.lane_x(lane) + self.lane_width / 2
        near = self.near + ZONE_NEAR_MARGIN
        corners = [(x1, near), (x2, near), (x2, ZONE_FAR), (x1, ZONE_FAR)]
        points = []
        for x, y in corners:
            u, v = self.project(x, y)
            points.append((min(1.0, max(0.0, float(u) / self.width)), min(1.0, max(0.0, float(v) / self.height))))
        return points

    def calibration(self):
        """Four marked ground points a technician would measure: the road edges at 15 m and 45 m
        (a ``CalibrationConfig``)."""
        from vms.config.detection import CalibrationConfig

        half = self.road_half()
        ground = [(-half, 15.0), (half, 15.0), (half, 45.0), (-half, 45.0)]
        picture = []
        for x, y in ground:
            u, v = self.project(x, y)
            picture.append((round(float(u) / self.width, 5), round(float(v) / self.height, 5)))
        return CalibrationConfig(picture=picture, ground=ground)

    def zones(self, **rules) -> list[ZoneConfig]:
        direction = (0.0, -1.0) if self.flow > 0 else (0.0, 1.0)  # away from the camera is up the picture
        return [ZoneConfig(id=f"lane{lane + 1}", name=f"Lane {lane + 1}", polygon=self.lane_polygon(lane), direction=direction, **rules)
                for lane in range(self.lanes)]


@dataclass
class Vehicle:
    lane: int
    enter: float  # seconds
    speed: float  # desired speed, m/s
    kind: str = "car"  # car, van, lorry
    direction: int = 0  # 0: the view's flow; -flow for a wrong-way driver
    stop_at: float | None = None  # Y (m) where it stops
    stop_for: float = 1e9
    paint: tuple[int, int, int] = PAINTS[0]
    # Filled by simulate(): Y of its end nearest the camera per frame (nan when absent), speed per frame.
    track: np.ndarray | None = None
    speeds: np.ndarray | None = None
    stopped_at_time: float | None = None

    @property
    def size(self) -> tuple[float, float, float]:
        """(width, length, height) in metres."""
        return {"car": (1.8, 4.5, 1.5), "van": (2.0, 5.5, 2.3), "lorry": (2.5, 12.0, 3.8)}[self.kind]


@dataclass
class Walker:
    """A person on the road: appears at (x, y) and walks at (vx, vy) m/s."""

    appear: float
    x: float
    y: float
    vx: float = 0.0
    vy: float = 0.0
    leave: float = 1e9
    paint: tuple[int, int, int] = (40, 140, 230)

    def at(self, t: float) -> tuple[float, float] | None:
        if not self.appear <= t < self.leave:
            return None
        return self.x + self.vx * (t - self.appear), self.y + self.vy * (t - self.appear)


@dataclass
class Debris:
    """Something fallen on the road at ``appear``: a box of ``size`` (width, length, height) m."""

    appear: float
    x: float
    y: float
    size: tuple[float, float, float] = (0.8, 0.6, 0.4)
    paint: tuple[int, int, int] = (30, 90, 200)


@dataclass
class Smoke:
    """A fire's smoke from (x, y): a haze growing to ``radius`` metres over ``grow`` seconds."""

    start: float
    x: float
    y: float
    radius: float = 14.0
    grow: float = 30.0
    density: float = 0.85


def lane_speed_factor(slowdowns: list[tuple[int | None, float, float]], lane: int, t: float) -> float:
    """Factor on desired speeds from slowdowns (lane or None for all, start, factor), a 4 s ramp."""
    factor = 1.0
    for which, start, target in slowdowns:
        if which is None or which == lane:
            ramp = min(1.0, max(0.0, (t - start) / 4.0))
            factor = min(factor, 1 - (1 - target) * ramp)
    return factor


def simulate(view: View, vehicles: list[Vehicle], duration: float, fps: float,
             slowdowns: list[tuple[int | None, float, float]] = ()) -> None:
    """Drive every vehicle frame by frame, filling its ``track`` and ``speeds``."""
    frames = int(round(duration * fps))
    dt = 1.0 / fps
    for v in vehicles:
        v.track = np.full(frames, np.nan)
        v.speeds = np.zeros(frames)
        v.stopped_at_time = None
    state: dict[int, tuple[float, float]] = {}  # id -> (position along its way, speed)
    waiting = sorted(vehicles, key=lambda v: v.enter)
    active: list[Vehicle] = []
    for i in range(frames):
        t = i * dt
        held = []
        while waiting and waiting[0].enter <= t:
            v = waiting.pop(0)
            entry = _entry_speed(view, v, active, state, v.speed * lane_speed_factor(list(slowdowns), v.lane, t))
            if entry is None:
                held.append(v)  # no room yet: it waits upstream, as real traffic would
                continue
            state[id(v)] = (0.0, entry)
            active.append(v)
        waiting[:0] = held
        gone = []
        for lane in range(view.lanes):
            for direction in (-1, 1):
                movers = [v for v in active if v.lane == lane and _dir(view, v) == direction]
                movers.sort(key=lambda v: -state[id(v)][0])  # leader first
                leader_rear = None
                for v in movers:
                    s, speed = state[id(v)]
                    wanted = v.speed * lane_speed_factor(list(slowdowns), lane, t)
                    y_now = _y(view, direction, s)
                    if v.stop_at is not None and (v.stopped_at_time is None or t < v.stopped_at_time + v.stop_for):
                        remaining = (v.stop_at - y_now) * direction
                        if v.stopped_at_time is not None or remaining <= 0.05:
                            wanted = 0.0
                            if v.stopped_at_time is None and speed < 0.3:
                                v.stopped_at_time = t
                        else:
                            wanted = min(wanted, math.sqrt(max(0.0, 2 * BRAKING * 0.7 * remaining)))
                    if leader_rear is not None:
                        gap = leader_rear - s - v.size[1]
                        wanted = min(wanted, max(0.0, (gap - MIN_GAP) / HEADWAY))
                    speed = min(speed + ACCELERATION * dt, wanted) if wanted > speed else max(speed - BRAKING * dt, wanted)
                    s += speed * dt
                    state[id(v)] = (s, speed)
                    leader_rear = s
                    y = _y(view, direction, s)
                    if ENTER_NEAR - 1 <= y <= ENTER_FAR + 1:
                        v.track[i], v.speeds[i] = y, speed
                    else:
                        gone.append(v)
        for v in gone:
            active.remove(v)


def _entry_speed(view: View, v: Vehicle, active: list[Vehicle], state: dict[int, tuple[float, float]],
                 wanted: float) -> float | None:
    """The speed at which ``v`` comes into the simulated stretch behind the last vehicle of its
    lane, or None while there is no room. Upstream it already kept the follow rule's gap, so it
    never appears closer than the rule allows (which would make it brake to a halt at the
    picture's bottom edge: a jam that no real traffic has)."""
    ahead = [state[id(o)] for o in active if o.lane == v.lane and _dir(view, o) == _dir(view, v)]
    if not ahead:
        return wanted
    rear, speed = min(ahead)  # the vehicle ahead nearest the entry
    gap = rear - v.size[1]
    allowed = (gap - MIN_GAP) / HEADWAY
    if allowed < min(wanted, speed):
        return None
    return min(wanted, allowed)


def _dir(view: View, v: Vehicle) -> int:
    return v.direction or view.flow


def _y(view: View, direction: int, s: float) -> float:
    return ENTER_NEAR + s if direction > 0 else ENTER_FAR - s


def traffic(view: View, rng: random.Random, duration: float, lanes=None, every: float = 4.0,
            speed_kmh: tuple[float, float] = (50, 80), lorries: float = 0.1, start: float = -6.0) -> list[Vehicle]:
    """Ordinary traffic in the view's direction; ``start`` < 0 puts vehicles on the road at 0."""
    vehicles = []
    for lane in lanes if lanes is not None else range(view.lanes):
        t = start + rng.uniform(0, every)
        while t < duration:
            kind = "lorry" if rng.random() < lorries else ("van" if rng.random() < 0.15 else "car")
            # Lorries drive 20 % slower, but never below the traffic's lowest speed: slow dense
            # traffic (35-50 km/h) is "not a slowdown yet" only if no lorry leads it under 30.
            kmh = rng.uniform(*speed_kmh)
            kmh = max(0.8 * kmh, speed_kmh[0]) if kind == "lorry" else kmh
            vehicles.append(Vehicle(lane, t, kmh / 3.6, kind, paint=rng.choice(PAINTS)))
            t += rng.expovariate(1 / every) + 0.8
    return vehicles


@dataclass
class Background:
    """The empty scene as BGR float32, plus masks of where walls and the road are."""

    picture: np.ndarray
    wall: np.ndarray  # bool: surfaces headlights and sun light up (walls, buildings)
    road: np.ndarray  # bool
    depth: np.ndarray  # Y (m) of the surface at each pixel (large for sky and ceiling far away)
    lateral: np.ndarray  # X (m) of the surface at each pixel
    extras: dict = field(default_factory=dict)


def background(view: View, seed: int) -> Background:
    """Ray-cast the empty road at twice the size and shrink it (anti-aliasing)."""
    rng = np.random.default_rng(seed)
    scale = 2
    w, h = view.width * scale, view.height * scale
    f, horizon, cam = view.f * scale, view.horizon * scale, view.camera_height
    u, v = np.meshgrid(np.arange(w) + 0.5 - w / 2, np.arange(h) + 0.5 - horizon)
    tunnel = view.kind == "tunnel"
    side = 7.0 if tunnel else 11.0
    roof = 7.0  # tunnel ceiling height; buildings for the gateway are 25 m high
    with np.errstate(divide="ignore", invalid="ignore"):
        y_ground = np.where(v > 0, f * cam / v, np.inf)
        y_wall = np.where(np.abs(u) > 0, side * f / np.abs(u), np.inf)
        y_roof = np.where(v < 0, f * ((roof if tunnel else 25.0) - cam) / -v, np.inf)
    depth = np.minimum(np.minimum(y_ground, y_wall), y_roof if tunnel else np.where(y_wall * -v / f + cam < 25, y_wall, np.inf))
    depth = np.minimum(depth, 400.0)
    X, Z = u * depth / f, cam - v * depth / f
    ground = (y_ground <= y_wall) & (v > 0)
    wall = ~ground & (y_wall <= (y_roof if tunnel else np.inf)) & (Z < (roof if tunnel else 25.0))
    ceiling = ~ground & ~wall
    picture = np.zeros((h, w, 3), np.float32)
    half = view.road_half()
    road = ground & (np.abs(X) <= half)
    asphalt = 70 + rng.normal(0, 6, (h, w)).astype(np.float32)
    asphalt = cv2.GaussianBlur(asphalt, (0, 0), 1.2)
    picture[road] = asphalt[road, None]
    kerb = ground & ~road
    picture[kerb] = (115, 118, 120) if tunnel else (140, 140, 135)
    markings = road & ((np.abs(np.abs(X) - half + 0.15) < 0.12) | (
        (np.abs(((X + half) / view.lane_width) - np.round((X + half) / view.lane_width)) * view.lane_width < 0.08)
        & (np.mod(depth, 12.0) < 4.0) & (np.abs(X) < half - 0.5)))
    picture[markings] = (215, 215, 210)
    if tunnel:
        tiles = 150 + 12 * np.sign(np.sin(depth * math.pi / 1.2)) * (Z < 3.0)
        picture[wall] = np.stack([tiles * 0.95, tiles, tiles], axis=-1)[wall]
        grout = wall & ((np.mod(depth, 1.2) < 0.05) | (np.mod(Z, 0.6) < 0.04))
        picture[grout] = (105, 105, 100)
        picture[ceiling] = (45, 45, 50)
        lights = ceiling & (np.abs(X) < 0.5) & (np.mod(depth, 8.0) < 1.2)
        picture[lights] = (230, 245, 255)
        niches = wall & (np.mod(depth, 50.0) < 1.5) & (Z < 2.2)
        picture[niches] = (60, 140, 40)
    else:
        sky = ceiling
        picture[sky] = (235, 200, 160)
        facades = 120 + 40 * np.sign(np.sin(depth * math.pi / 7.0))
        picture[wall] = np.stack([facades * 0.8, facades * 0.9, facades], axis=-1)[wall]
        windows = wall & (np.mod(depth, 3.5) < 1.5) & (np.mod(Z, 3.2) > 1.2) & (Z > 3)
        picture[windows] = (90, 70, 50)
    small = cv2.resize(picture, (view.width, view.height), interpolation=cv2.INTER_AREA)

    def shrink(mask):
        return cv2.resize(mask.astype(np.uint8), (view.width, view.height), interpolation=cv2.INTER_NEAREST) > 0

    return Background(small, shrink(wall), shrink(road),
                      cv2.resize(depth.astype(np.float32), (view.width, view.height), interpolation=cv2.INTER_AREA),
                      cv2.resize(X.astype(np.float32), (view.width, view.height), interpolation=cv2.INTER_AREA))
