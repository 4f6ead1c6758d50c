"""Synthetic tunnel scenes with known ground truth, encoded to H.264 as ingest would publish them.

A scene is a tunnel tube seen from the side: tiled walls with lights above and below, three
lanes with dashed markings, traffic driving left to right. Vehicles are textured rectangles
that can stop, drive the wrong way or queue; walkers are small blobs; the camera can be
covered, defocused or turned; lighting can flicker and the sensor adds noise. Everything is
seeded, and the scene knows when each event truly happens. Coordinates are fractions of the
picture, speeds fractions of the width per second.
"""

from __future__ import annotations

import io
import math
import random
import time
from dataclasses import dataclass, field, replace
from fractions import Fraction

import av
import cv2
import numpy as np

from streams.fanout import PacketFanout
from streams.packets import MediaPacket, StreamEnd, StreamInfo
from vms.config.detection import CameraDetection, TamperConfig, TrafficConfig, ZoneConfig

TIME_BASE = Fraction(1, 90000)
START_WALL = 1_800_000_000.0
ROAD_TOP, ROAD_BOTTOM, LANES = 0.26, 0.80, 3
ROAD_POLYGON = [(0.0, ROAD_TOP), (1.0, ROAD_TOP), (1.0, ROAD_BOTTOM), (0.0, ROAD_BOTTOM)]
# Body colours (RGB) that stand out from the asphalt in grey, as real paint mostly does.
PAINTS = [(235, 235, 230), (190, 190, 195), (25, 25, 30), (20, 30, 75), (230, 200, 40), (240, 130, 110), (60, 20, 20)]


def lane_centre(lane: int) -> float:
    return ROAD_TOP + (lane + 0.5) * (ROAD_BOTTOM - ROAD_TOP) / LANES


@dataclass
class Vehicle:
    lane: int
    enter: float  # seconds at which its front reaches the edge of the picture
    speed: float = 0.15
    direction: int = 1  # +1 left to right (the tube's direction), -1 the wrong way
    length: float = 0.15
    height: float = 0.12
    paint: tuple[int, int, int] = PAINTS[0]
    stop_at: float | None = None  # centre x where it stops
    stop_for: float = 1e9  # seconds it stands, then drives on

    def _start_x(self) -> float:
        return -self.length / 2 if self.direction > 0 else 1 + self.length / 2

    def stop_time(self) -> float | None:
        if self.stop_at is None:
            return None
        return self.enter + abs(self.stop_at - self._start_x()) / self.speed

    def x(self, t: float) -> float | None:
        """Centre x at ``t``, or None when not in the picture."""
        if t < self.enter:
            return None
        travelled = (t - self.enter) * self.speed
        stop = self.stop_time()
        if stop is not None and t >= stop:
            standing = t - stop
            travelled = abs(self.stop_at - self._start_x()) + max(0.0, standing - self.stop_for) * self.speed
        x = self._start_x() + self.direction * travelled
        return x if -self.length / 2 <= x <= 1 + self.length / 2 else None

    def moving(self, t: float) -> bool:
        stop = self.stop_time()
        return self.x(t) is not None and not (stop is not None and stop <= t < stop + self.stop_for)

    def box(self, t: float) -> tuple[float, float, float, float] | None:
        x = self.x(t)
        if x is None:
            return None
        y = lane_centre(self.lane)
        return (x - self.length / 2, y - self.height / 2, x + self.length / 2, y + self.height / 2)


@dataclass
class Walker:
    """A pedestrian (or dropped object when speed is zero): a small upright blob."""

    appear: float
    x: float
    y: float
    vx: float = 0.0
    vy: float = 0.04
    leave: float = 1e9
    width: float = 0.018
    height: float = 0.07
    paint: tuple[int, int, int] = (230, 120, 30)

    def box(self, t: float) -> tuple[float, float, float, float] | None:
        if not (self.appear <= t < self.leave):
            return None
        cx, cy = self.x + self.vx * (t - self.appear), self.y + self.vy * (t - self.appear)
        if not (0 <= cx <= 1 and 0 <= cy <= 1):
            return None
        return (cx - self.width / 2, cy - self.height, cx + self.width / 2, cy)


@dataclass
class Scene:
    name: str = "scene"
    duration: float = 12.0
    fps: int = 10
    width: int = 320
    height: int = 180
    seed: int = 0
    vehicles: list[Vehicle] = field(default_factory=list)
    walkers: list[Walker] = field(default_factory=list)
    noise: float = 3.0  # sensor noise, grey levels (sigma)
    flicker: float = 0.0  # lighting flicker, relative amplitude
    covered_at: float | None = None
    blur_at: float | None = None
    blur_sigma: float = 0.012  # fraction of the width
    moved_at: float | None = None
    moved_shift: tuple[float, float] = (0.18, 0.0)
    moved_angle: float = 0.0  # degrees
    gop: int = 20

    def frames(self):
        """Yield (t, RGB frame) for the whole scene."""
        renderer = _Renderer(self)
        for i in range(int(self.duration * self.fps)):
            t = i / self.fps
            yield t, renderer.render(t)

    # -- ground truth ---------------------------------------------------------------------

    def occupancy(self, t: float, polygon=ROAD_POLYGON, size: tuple[int, int] = (160, 90)) -> float:
        """True fraction of ``polygon`` covered by vehicles at ``t``."""
        w, h = size
        zone = np.zeros((h, w), np.uint8)
        cv2.fillPoly(zone, [np.array([[x * (w - 1), y * (h - 1)] for x, y in polygon], np.int32)], 1)
        cover = np.zeros_like(zone)
        for vehicle in self.vehicles:
            box = vehicle.box(t)
            if box is not None:
                x1, y1, x2, y2 = (max(0, int(round(v * s))) for v, s in zip(box, (w, h, w, h)))
                cover[y1:y2, x1:x2] = 1
        return float((cover & zone).sum() / max(1, zone.sum()))

    def truth(self, config: CameraDetection) -> list["TruthEvent"]:
        """The events a perfect detector raises for this scene under ``config``'s first zone."""
        zone = config.zones[0] if config.zones else None
        events: list[TruthEvent] = []
        if self.covered_at is not None:
            events.append(TruthEvent("tamper_covered", self.covered_at))
        if self.blur_at is not None:
            events.append(TruthEvent("tamper_defocus", self.blur_at))
        if self.moved_at is not None:
            events.append(TruthEvent("tamper_moved", self.moved_at))
        tampered = min((t for t in (self.covered_at, self.blur_at, self.moved_at) if t is not None), default=1e9)
        if zone is None:
            return events
        standing: list[tuple[float, float]] = []  # one event per zone while any vehicle stands
        for vehicle in sorted(self.vehicles, key=lambda v: v.stop_time() or 1e9):
            stop = vehicle.stop_time()
            if zone.stopped_seconds and stop is not None and vehicle.stop_for > zone.stopped_seconds:
                due = stop + zone.stopped_seconds
                congested = zone.congestion_occupancy is not None and self.occupancy(due, zone.polygon) >= 0.8 * zone.congestion_occupancy
                overlapping = any(a <= due <= b for a, b in standing)
                standing.append((stop, stop + vehicle.stop_for))
                if due < min(self.duration, tampered) and not congested and not overlapping:
                    events.append(TruthEvent("stopped_vehicle", due, zone.id))
            if zone.direction is not None and vehicle.direction * zone.direction[0] < 0 and vehicle.enter < min(self.duration, tampered) - 2:
                events.append(TruthEvent("wrong_way", max(vehicle.enter, 0.0), zone.id))
        if zone.vehicle_only:
            for walker in self.walkers:
                if walker.appear < min(self.duration, tampered) - 2:
                    events.append(TruthEvent("pedestrian", walker.appear, zone.id))
        if zone.congestion_occupancy is not None:
            above = None
            for i in range(int(self.duration * self.fps)):
                t = i / self.fps
                if t >= tampered:
                    break
                if self.occupancy(t, zone.polygon) >= zone.congestion_occupancy:
                    above = t if above is None else above
                    if t - above >= zone.congestion_seconds:
                        events.append(TruthEvent("congestion", t, zone.id))
                        break
                else:
                    above = None
        return events

    def motion_intervals(self) -> list[tuple[float, float]]:
        """When something moves in the picture (before any tampering)."""
        intervals: list[tuple[float, float]] = []
        current = None
        for i in range(int(self.duration * self.fps)):
            t = i / self.fps
            moving = any(v.moving(t) and v.box(t) is not None for v in self.vehicles) or any(
                w.box(t) is not None and (w.vx or w.vy) for w in self.walkers
            )
            if moving and current is None:
                current = t
            elif not moving and current is not None:
                intervals.append((current, t))
                current = None
        if current is not None:
            intervals.append((current, self.duration))
        return intervals


@dataclass(frozen=True)
class TruthEvent:
    type: str
    due: float  # seconds into the scene by which the event should be raised (before latency)
    zone: str | None = None


class _Renderer:
    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        self.rng = np.random.default_rng(scene.seed)
        w, h = scene.width, scene.height
        self.margin = int(w * 0.5)
        self.world = _background(w + 2 * self.margin, h, self.margin, random.Random(scene.seed))
        self.flicker_phase = random.Random(scene.seed + 1).uniform(0, 2 * math.pi)
        self.textures: dict[int, np.ndarray] = {}

    def render(self, t: float) -> np.ndarray:
        s = self.scene
        w, h, m = s.width, s.height, self.margin
        # Draw the world wider than the picture, so a turned camera sees what lies beside it.
        wide = self.world.copy()
        view = wide[:, m : m + w]
        for index, vehicle in enumerate(s.vehicles):
            box = vehicle.box(t)
            if box is not None:
                self._vehicle(view, index, vehicle, box)
        for walker in s.walkers:
            box = walker.box(t)
            if box is not None:
                x1, y1, x2, y2 = _pixels(box, w, h)
                view[y1:y2, x1:x2] = walker.paint
                view[y1 : y1 + max(1, (y2 - y1) // 4), x1:x2] = (200, 170, 140)  # head
        if s.moved_at is not None and t >= s.moved_at:
            frame = self._turned(wide)
        else:
            frame = view.copy()
        if s.blur_at is not None and t >= s.blur_at:
            frame = cv2.GaussianBlur(frame, (0, 0), s.blur_sigma * w)
        if s.flicker:
            gain = 1 + s.flicker * math.sin(2 * math.pi * 1.3 * t + self.flicker_phase)
            frame = np.clip(frame.astype(np.float32) * gain, 0, 255).astype(np.uint8)
        if s.covered_at is not None and t >= s.covered_at:
            frame = np.full_like(frame, 12)  # a hand or a bag over the lens: dark and flat
        if s.noise:
            noise = self.rng.normal(0, s.noise, frame.shape[:2] + (1,)).astype(np.float32)
            frame = np.clip(frame.astype(np.float32) + noise, 0, 255).astype(np.uint8)
        return frame

    def _vehicle(self, frame: np.ndarray, index: int, vehicle: Vehicle, box) -> None:
        h, w = frame.shape[:2]
        x1, y1, x2, y2 = _pixels(box, w, h)
        if index not in self.textures:
            seeded = random.Random(self.scene.seed * 1000 + index)
            self.textures[index] = _vehicle_texture(max(x2 - x1, 4), max(y2 - y1, 4), vehicle, seeded)
        texture = self.textures[index]
        if vehicle.direction < 0:
            texture = texture[:, ::-1]
        tx1, ty1 = max(0, -x1), max(0, -y1)
        x1c, y1c, x2c, y2c = max(0, x1), max(0, y1), min(w, x1 + texture.shape[1]), min(h, y1 + texture.shape[0])
        if x2c > x1c and y2c > y1c:
            frame[y1c:y2c, x1c:x2c] = texture[ty1 : ty1 + y2c - y1c, tx1 : tx1 + x2c - x1c]

    def _turned(self, wide: np.ndarray) -> np.ndarray:
        """The picture after the camera was shifted by ``moved_shift`` and rolled by ``moved_angle``."""
        s = self.scene
        w, h = s.width, s.height
        a = math.radians(s.moved_angle)
        cx, cy = w / 2, h / 2
        if not s.moved_angle:  # a pan by whole pixels: the turned picture stays as sharp as before
            x0, y0 = self.margin + round(s.moved_shift[0] * w), round(s.moved_shift[1] * h)
            shifted = np.pad(wide, ((h, h), (0, 0), (0, 0)), mode="reflect")[h + y0 : 2 * h + y0]
            return shifted[:, x0 : x0 + w].copy()
        # Map each output pixel back into the wide world: rotate about the centre, then shift.
        matrix = np.array(
            [
                [math.cos(a), -math.sin(a), cx + self.margin + s.moved_shift[0] * w - math.cos(a) * cx + math.sin(a) * cy],
                [math.sin(a), math.cos(a), cy + s.moved_shift[1] * h - math.sin(a) * cx - math.cos(a) * cy],
            ]
        )
        return cv2.warpAffine(wide, matrix, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)


def _pixels(box, w: int, h: int) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = box
    return int(round(x1 * w)), int(round(y1 * h)), int(round(x2 * w)), int(round(y2 * h))


def _vehicle_texture(w: int, h: int, vehicle: Vehicle, rng: random.Random) -> np.ndarray:
    body = np.zeros((h, w, 3), np.uint8)
    body[:] = vehicle.paint
    lum = 0.299 * vehicle.paint[0] + 0.587 * vehicle.paint[1] + 0.114 * vehicle.paint[2]
    glass = (40, 50, 60) if lum > 100 else (150, 170, 185)
    front = int(w * 0.62)  # windscreen towards the front (right when driving left to right)
    body[int(h * 0.15) : int(h * 0.85), front : front + max(2, w // 6)] = glass
    body[int(h * 0.15) : int(h * 0.85), int(w * 0.12) : int(w * 0.12) + max(2, w // 10)] = glass
    body[: max(1, h // 8), :] = np.clip(np.array(vehicle.paint) * 0.6, 0, 255)
    body[-max(1, h // 8) :, :] = np.clip(np.array(vehicle.paint) * 0.6, 0, 255)
    body[int(h * 0.3) : int(h * 0.7), w - max(1, w // 20) :] = (255, 250, 200)  # headlights
    for _ in range(3):  # roof rails, stickers: something for the eye (and the detector) to follow
        x = rng.randrange(0, max(1, w - 3))
        body[int(h * 0.4) : int(h * 0.6), x : x + 2] = np.clip(np.array(vehicle.paint) * 0.5 + 40, 0, 255)
    return body


def _background(w: int, h: int, margin: int, rng: random.Random) -> np.ndarray:
    image = np.zeros((h, w, 3), np.uint8)
    top, bottom = int(ROAD_TOP * h), int(ROAD_BOTTOM * h)
    image[:top] = (150, 150, 140)  # tiled wall
    image[bottom:] = (120, 120, 115)  # walkway and lower wall
    x = 0
    while x < w:  # wall panels of slightly different shades, as cleaning and repairs leave them
        panel = rng.randrange(max(8, w // 30), max(16, w // 8))
        shade = rng.randrange(-18, 18)
        image[: top - 2, x : x + panel] = np.clip(np.array((150, 150, 140)) + shade, 0, 255)
        x += panel
    tile = max(4, h // 18)
    for x in range(0, w, tile * 2):
        image[: top - 2, x : x + 1] = (110, 110, 105)
        image[bottom + 2 :, x : x + 1] = (90, 90, 88)
    for y in range(0, top - 2, tile):
        image[y : y + 1, :] = (110, 110, 105)
    spacing = max(20, w // 12)
    x = rng.randrange(0, spacing)
    while x < w:  # lights along the top, not quite evenly spaced
        image[int(0.05 * h) : int(0.05 * h) + max(2, h // 40), x : x + max(6, w // 60)] = (255, 245, 210)
        x += int(spacing * rng.uniform(0.6, 1.6))
    x = rng.randrange(0, 2 * spacing)
    while x < w:  # emergency niches, signs and cabinets at irregular places
        kind = rng.random()
        sw = max(6, int(w * rng.uniform(0.01, 0.04)))
        if kind < 0.4:
            image[bottom + 4 : bottom + 4 + h // 10, x : x + sw] = (30, 120, 60)
        elif kind < 0.7:
            image[int(0.1 * h) : int(0.1 * h) + h // 12, x : x + sw * 2] = (30, 60, 160)
            image[int(0.1 * h) + 2 : int(0.1 * h) + h // 12 - 2, x + 2 : x + sw * 2 - 2] = (230, 230, 230)
        else:
            image[bottom + 6 : bottom + 6 + h // 8, x : x + sw] = (200, 90, 30)
        x += int(spacing * rng.uniform(1.0, 4.0))
    asphalt = np.random.default_rng(rng.randrange(1 << 30)).normal(85, 4, (bottom - top, w))
    asphalt = cv2.GaussianBlur(asphalt, (0, 0), 2)
    image[top:bottom] = np.clip(asphalt, 0, 255).astype(np.uint8)[..., None]
    for _ in range(w // 60):  # patches and stains on the asphalt
        px, py = rng.randrange(w), rng.randrange(top + 4, bottom - 4)
        cv2.ellipse(image, (px, py), (rng.randrange(4, 20), rng.randrange(2, 6)), 0, 0, 360, (70, 70, 72), -1)
    line = max(1, h // 120)
    image[top : top + line] = (230, 230, 220)
    image[bottom - line : bottom] = (230, 230, 220)
    dash, gap = max(8, w // 40), max(8, w // 40)
    for lane in range(1, LANES):
        y = int((ROAD_TOP + lane * (ROAD_BOTTOM - ROAD_TOP) / LANES) * h)
        for x in range(0, w, dash + gap):
            image[y : y + line, x : x + dash] = (230, 230, 220)
    return image


# -- the standard tunnel camera and scenario set --------------------------------------------


def tunnel_detection(**overrides) -> CameraDetection:
    """Detection settings of a tunnel camera matching these scenes."""
    zone = ZoneConfig(
        id="tube",
        name="Tunnel tube",
        polygon=ROAD_POLYGON,
        direction=(1.0, 0.0),
        vehicle_only=True,
        stopped_seconds=4,
        congestion_occupancy=0.35,
        congestion_seconds=4,
    )
    base = dict(fps=5, zones=[zone], traffic=TrafficConfig(), tamper=TamperConfig(learn_seconds=3))
    base.update(overrides)
    return CameraDetection(**base)


def traffic(rng: random.Random, duration: float, lanes=(0, 1, 2), every: float = 2.5, start: float = 0.0) -> list[Vehicle]:
    """Ordinary traffic in the tube's direction."""
    vehicles = []
    for lane in lanes:
        t = start + rng.uniform(0, every)
        while t < duration:
            vehicles.append(
                Vehicle(lane, t, speed=rng.uniform(0.12, 0.3), length=rng.uniform(0.1, 0.2), height=rng.uniform(0.1, 0.13), paint=rng.choice(PAINTS))
            )
            t += rng.uniform(every, every * 2.5)
    return vehicles


KINDS = ("quiet", "traffic", "stopped", "wrong_way", "pedestrian", "congestion", "covered", "defocus", "moved")


def scenario(kind: str, seed: int, width: int = 320, height: int = 180, fps: int = 10) -> Scene:
    """One seeded clip of ``kind``; all but "quiet" have ordinary traffic around the incident."""
    rng = random.Random(f"{kind}-{seed}")
    duration = 16.0
    scene = Scene(
        name=f"{kind}-{seed}", duration=duration, fps=fps, width=width, height=height, seed=rng.randrange(1 << 30),
        noise=rng.uniform(1.5, 4.0), flicker=rng.uniform(0.0, 0.06),
    )
    if kind == "quiet":
        scene.flicker = rng.uniform(0.05, 0.12)  # lights flickering and noise, nothing else
        return scene
    scene.vehicles = traffic(rng, duration, start=0.0)
    incident = rng.uniform(5.0, 7.0)
    if kind == "stopped":
        lane = rng.randrange(LANES)
        scene.vehicles = [v for v in scene.vehicles if v.lane != lane or v.enter > duration]  # its lane clears behind it
        scene.vehicles.append(Vehicle(lane, incident - 3, speed=rng.uniform(0.15, 0.25), paint=rng.choice(PAINTS), stop_at=rng.uniform(0.35, 0.7)))
    elif kind == "wrong_way":
        lane = rng.randrange(LANES)
        scene.vehicles = [v for v in scene.vehicles if v.lane != lane]
        scene.vehicles.append(Vehicle(lane, incident, speed=rng.uniform(0.12, 0.25), direction=-1, paint=rng.choice(PAINTS)))
    elif kind == "pedestrian":
        lane = rng.randrange(LANES)
        scene.vehicles = [v for v in scene.vehicles if v.lane != lane]
        y = lane_centre(lane) + 0.05
        scene.walkers.append(Walker(incident, x=rng.uniform(0.2, 0.8), y=y, vx=rng.choice([-1, 1]) * rng.uniform(0.0, 0.03), vy=0.0))
    elif kind == "congestion":
        # A queue forms from the right, after the camera has seen the empty road (a camera that
        # starts in a jam learns the jam as its road until it clears).
        scene.vehicles = [v for v in scene.vehicles if v.enter < incident - 4]
        for lane in range(LANES):
            x = 0.95 - rng.uniform(0, 0.05)
            while x > -0.2:
                length = rng.uniform(0.1, 0.16)
                scene.vehicles.append(
                    Vehicle(lane, incident - 2.5 + (0.95 - x) * 2, speed=0.3, length=length, paint=rng.choice(PAINTS), stop_at=x, stop_for=rng.uniform(20, 40))
                )
                x -= length + rng.uniform(0.02, 0.05)
    elif kind == "covered":
        scene.covered_at = incident
    elif kind == "defocus":
        scene.blur_at = incident
        scene.blur_sigma = rng.uniform(0.01, 0.02)
    elif kind == "moved":
        scene.moved_at = incident
        if rng.random() < 0.5:
            scene.moved_shift = (rng.choice([-1, 1]) * rng.uniform(0.12, 0.3), rng.uniform(-0.05, 0.05))
        else:
            scene.moved_shift = (rng.uniform(-0.05, 0.05), rng.uniform(-0.05, 0.05))
            scene.moved_angle = rng.choice([-1, 1]) * rng.uniform(8, 20)
    return scene


# -- encoding and feeding -------------------------------------------------------------------


@dataclass
class EncodedScene:
    scene: Scene
    info: StreamInfo
    packets: list[MediaPacket]
    start_wall: float

    def scene_time(self, wall: float) -> float:
        return wall - self.start_wall


def encode(scene: Scene, camera_id: str = "cam", start_wall: float = START_WALL, session: int = 1, stream: str = "sub") -> EncodedScene:
    """Encode the scene with libx264 (no B-frames, as cameras send) into ingest's packets."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mpegts") as out:
        video = out.add_stream("libx264", rate=scene.fps)
        video.width, video.height, video.pix_fmt = scene.width, scene.height, "yuv420p"
        video.options = {"g": str(scene.gop), "keyint_min": str(scene.gop), "bf": "0", "preset": "ultrafast", "sc_threshold": "0"}
        for _, array in scene.frames():
            for packet in video.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
    buffer.seek(0)
    with av.open(buffer) as container:
        demuxed = [(bytes(p), p.pts, p.dts, p.is_keyframe, p.time_base) for p in container.demux(video=0) if p.dts is not None]
    first = demuxed[0][1]
    info = StreamInfo(camera_id, stream, session, "h264", scene.width, scene.height, TIME_BASE, float(scene.fps), b"")
    packets = []
    for data, pts, dts, key, tb in demuxed:
        scale = Fraction(tb) / TIME_BASE
        p, d = int((pts - first) * scale), int((dts - first) * scale)
        packets.append(MediaPacket(session, data, p, d, TIME_BASE, key, start_wall + float(p * TIME_BASE)))
    return EncodedScene(scene, info, packets, start_wall)


def feed(fanout: PacketFanout, encoded: EncodedScene, realtime: bool = False, end: bool = True, on_packet=None) -> None:
    """Publish the scene on ``fanout`` as an ingest session would, optionally at real time."""
    fanout.publish(encoded.info)
    started = time.monotonic()
    for packet in encoded.packets:
        if realtime:
            delay = started + (packet.wall_time - encoded.start_wall) - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        if on_packet is not None:
            on_packet(packet)
        fanout.publish(packet)
    if end:
        fanout.publish(StreamEnd(encoded.info.camera_id, encoded.info.stream, encoded.info.session, "end of scene"))


def realtime_scene(encoded: EncodedScene, start_wall: float) -> EncodedScene:
    """The same packets stamped with wall times starting at ``start_wall`` (e.g. now)."""
    shift = start_wall - encoded.start_wall
    packets = [replace(p, wall_time=p.wall_time + shift) for p in encoded.packets]
    return EncodedScene(encoded.scene, encoded.info, packets, start_wall)


# -- running a scene through the real detection path ------------------------------------------


@dataclass
class SeenEvent:
    id: int
    type: str
    zone: str | None
    start: float
    detected_at: float
    end: float | None = None
    score: float = 1.0
    snapshot: bytes | None = None
    details: dict = field(default_factory=dict)
    published_at: float = 0.0  # time.monotonic() when the sink received it


class EventLog:
    """An in-memory event sink with the EventRecorder's open/close interface."""

    def __init__(self) -> None:
        self.events: list[SeenEvent] = []
        self._ids = iter(range(1, 1 << 30))

    def open(self, camera_id, type, start, detected_at=None, zone=None, score=1.0, snapshot=None, details=None) -> int:
        event = SeenEvent(next(self._ids), type, zone, start, detected_at or start, None, score, snapshot, details or {}, time.monotonic())
        self.events.append(event)
        return event.id

    def close(self, event_id, end, score=None) -> None:
        for event in self.events:
            if event.id == event_id:
                event.end = end

    def of(self, type: str) -> list[SeenEvent]:
        return [e for e in self.events if e.type == type]


def run_scene(encoded: EncodedScene, config: CameraDetection, sink=None, decode: str | None = None, timeout: float = 120):
    """Feed ``encoded`` through a PacketFanout into a real DetectionPipeline; return (sink, pipeline)."""
    from streams.detect import build_detectors
    from streams.detect.decode import FrameDecoder
    from streams.detect.pipeline import DetectionPipeline

    sink = sink or EventLog()
    mode = decode or config.decode
    fanout = PacketFanout(encoded.info.camera_id, encoded.info.stream)
    queue = fanout.subscribe("detect", max_packets=100_000)
    decoder = FrameDecoder(encoded.info.camera_id, config.fps, mode == "keyframes", config.analysis_width)
    pipeline = DetectionPipeline(encoded.info.camera_id, queue, decoder, build_detectors(config), sink, drop_frames=False).start()
    try:
        feed(fanout, encoded)
        if not pipeline.wait_stream_ends(1, timeout):
            raise TimeoutError(f"detection did not finish {encoded.scene.name} in {timeout} s")
    finally:
        pipeline.stop()
    return sink, pipeline
