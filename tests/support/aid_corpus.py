"""The AID corpus: one seeded clip per (incident type, view, seed), and long incident-free clips.

Every clip gets a random mix of disturbances (``disturb``) drawn from its seed, so the
detection rate is measured under the same conditions that make false alarms. Incident clips
last the incident's start (15-25 s, after the detectors have learned the scene) plus its
time limit; incident-free clips are long (10 minutes by default) and are where false alarms
per camera-day are counted.
"""

from __future__ import annotations

import random

import numpy as np

from tests.support.aid_scenes import TIME_LIMITS, AidScene, Incident
from tests.support.aid_world import PAINTS, ZONE_FAR, Debris, Smoke, Vehicle, View, Walker, traffic

VIEWS = ("tunnel", "gateway")


def disturb(scene: AidScene, rng: random.Random, quiet: bool = False) -> AidScene:
    """Draw a mix of disturbances for ``scene`` (in place); ``quiet`` clips get more of them."""
    d, gateway = scene.duration, scene.view.kind == "gateway"
    more = 1.5 if quiet else 1.0
    scene.wet = rng.random() < 0.6
    if rng.random() < 0.5 * more:
        scene.sweeps = rng.uniform(2, 6)
    if rng.random() < 0.5 * more:
        scene.steps = sorted((rng.uniform(5, d), rng.choice([0.6, 0.75, 1.35, 1.6]), rng.choice(["all", "all", "near", "far"]))
                             for _ in range(rng.randint(1, max(1, int(d / 120) + 1))))
    if rng.random() < 0.5 * more:
        scene.flicker, scene.flicker_hz = rng.uniform(0.02, 0.08), rng.uniform(0.4, 2.4)
    if rng.random() < 0.4 * more:
        bursts = []
        for _ in range(max(1, int(d / 40))):
            start = rng.uniform(0, d)
            bursts.append((start, start + rng.uniform(1.5, 5)))
        scene.vibration = bursts
    scene.noise = rng.uniform(1.5, 7.0)
    scene.crf = rng.choice([24, 28, 32, 36, 40, 42])
    if rng.random() < (0.7 if gateway else 0.25):
        scene.sun = rng.uniform(0.3, 0.8)
    if gateway and rng.random() < 0.4 * more:
        scene.rain = rng.randint(80, 300)
        scene.wet = True
    if rng.random() < 0.4 * more:
        scene.ir_at = rng.uniform(5, d * 0.7)
        if rng.random() < 0.5:
            scene.ir_back = scene.ir_at + rng.uniform(10, d * 0.3 + 10)
    return scene


def _base(kind: str, view_kind: str, seed: int, duration: float, quiet: bool) -> tuple[AidScene, random.Random]:
    rng = random.Random(f"{kind}-{view_kind}-{seed}")
    view = View(view_kind)
    scene = AidScene(f"{kind}-{view_kind}-{seed}", view, duration, rng.randrange(1 << 30))
    disturb(scene, rng, quiet)
    dense = rng.random() < 0.3
    lorries = 0.35 if rng.random() < 0.4 else 0.08
    if dense:  # slow dense traffic: not a slowdown yet (above 30 km/h)
        scene.vehicles = traffic(view, rng, duration, every=2.0, speed_kmh=(35, 50), lorries=lorries)
    else:
        scene.vehicles = traffic(view, rng, duration, every=rng.uniform(3.0, 8.0), lorries=lorries)
    return scene, rng


def quiet_scene(view_kind: str, seed: int, duration: float = 600.0) -> AidScene:
    """An incident-free clip full of disturbances."""
    scene, _ = _base("quiet", view_kind, seed, duration, quiet=True)
    return scene.prepare()


def incident_scene(kind: str, view_kind: str, seed: int) -> AidScene:
    """A clip with one incident of ``kind`` (see ``aid_scenes.INCIDENT_TYPES``), its truth filled in."""
    rng0 = random.Random(f"when-{kind}-{view_kind}-{seed}")
    start = rng0.uniform(15, 25)
    duration = start + TIME_LIMITS[kind] + 5
    scene, rng = _base(kind, view_kind, seed, duration, quiet=False)
    view = scene.view
    lane = rng.randrange(view.lanes)
    zone = f"lane{lane + 1}"
    others = [other for other in range(view.lanes) if other != lane]

    def clear_lane(after: float, before: float = 1e9) -> None:
        for v in scene.vehicles:  # they changed lanes upstream
            if v.lane == lane and after <= v.enter <= before:
                v.lane = rng.choice(others)

    if kind == "stopped_vehicle":
        y_stop = rng.uniform(18, 50)
        speed = rng.uniform(40, 70) / 3.6
        travel = (y_stop - 4.0) if view.flow > 0 else (160.0 - y_stop)
        enter = start - travel / speed - speed / 4.0  # plus the time braking costs
        clear_lane(enter - 8)
        stopper = Vehicle(lane, enter, speed, rng.choice(["car", "car", "van"]), stop_at=y_stop, paint=rng.choice(PAINTS))
        scene.vehicles.append(stopper)
        scene.prepare()
        scene.incidents = [Incident(kind, stopper.stopped_at_time, zone)]
        return scene
    if kind == "wrong_way":
        speed = rng.uniform(30, 60) / 3.6
        clear_lane(start - 15, start + 15)
        for v in scene.vehicles:
            if v.lane == lane and v.enter < start - 15:
                v.lane = rng.choice(others) if rng.random() < 0.7 else v.lane
        culprit = Vehicle(lane, start - 1.0, speed, "car", direction=-view.flow, paint=rng.choice(PAINTS))
        scene.vehicles.append(culprit)
        scene.prepare()
        visible = np.where(~np.isnan(culprit.track) & (culprit.track <= 50) & (culprit.track >= view.near + 2))[0]
        scene.incidents = [Incident(kind, float(visible[0]) / scene.fps, zone)] if len(visible) else []
        return scene
    if kind == "pedestrian":
        outer = rng.choice([0, view.lanes - 1])
        lane, zone = outer, f"lane{outer + 1}"
        others[:] = [o for o in range(view.lanes) if o != lane]
        clear_lane(start - 20)
        side = -1 if outer == 0 else 1
        x = view.lane_x(outer) + side * view.lane_width * 0.3
        y = rng.uniform(14, 35)
        scene.walkers.append(Walker(start, x, y, vx=-side * rng.uniform(0.0, 0.2), vy=rng.choice([-1, 1]) * rng.uniform(0.6, 1.4)))
    elif kind == "slowdown":
        scene.vehicles = traffic(view, rng, duration, every=2.0, speed_kmh=(55, 75), lorries=0.08)
        scene.slowdowns = [(lane, start - 3.0, rng.uniform(0.08, 0.18))]
        scene.prepare()
        scene.incidents = [Incident(kind, _slow_since(scene, lane), zone)]
        return scene
    elif kind == "smoke":
        scene.smoke = Smoke(start, view.lane_x(lane), rng.uniform(25, 45), radius=rng.uniform(10, 16), grow=rng.uniform(20, 40))
        zone = None
    elif kind == "debris":
        clear_lane(start - 3)
        scene.debris.append(Debris(start, view.lane_x(lane) + rng.uniform(-0.8, 0.8), rng.uniform(14, 32),
                                   size=(rng.uniform(0.5, 1.0), rng.uniform(0.4, 0.8), rng.uniform(0.3, 0.5)),
                                   paint=rng.choice([(30, 90, 200), (200, 200, 200), (20, 20, 20), (40, 160, 60)])))
    scene.prepare()
    scene.incidents = [Incident(kind, start, zone)]
    return scene


def _slow_since(scene: AidScene, lane: int, kmh: float = 30.0) -> float:
    """First time the lane's vehicles in view average below ``kmh``."""
    frames = int(round(scene.duration * scene.fps))
    for i in range(frames):
        speeds = [v.speeds[i] for v in scene.vehicles if v.lane == lane and v.track is not None
                  and not np.isnan(v.track[i]) and scene.view.near <= v.track[i] <= ZONE_FAR]
        if speeds and i / scene.fps > scene.slowdowns[0][1] and np.mean(speeds) * 3.6 < kmh:
            return i / scene.fps
    return scene.slowdowns[0][1] + 4.0
