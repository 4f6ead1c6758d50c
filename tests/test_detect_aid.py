"""Automatic incident detection on seeded perspective scenes (tests/support/aid_*.py): each
incident type is raised in its lane within its time limit, and the disturbances that make
tunnel AID cry wolf raise nothing. Clips are rendered, encoded to H.264 files with PyAV and
decoded from them, as in bench/aid.py."""

from __future__ import annotations

import random

import pytest

from bench.aid import analyse_clip
from tests.support.aid_corpus import incident_scene
from tests.support.aid_scenes import TIME_LIMITS, AidScene, Incident
from tests.support.aid_world import Debris, Smoke, Vehicle, View, Walker, traffic


def scene(view_kind: str, seed: int, duration: float, lanes=(0, 2), **disturbances) -> AidScene:
    """Light traffic in ``lanes``, mild noise and compression, no other disturbance unless asked."""
    view = View(view_kind)
    rng = random.Random(seed)
    defaults = dict(noise=2.5, crf=28, wet=False)
    defaults.update(disturbances)
    built = AidScene(f"{view_kind}-{seed}", view, duration, seed, **defaults)
    built.vehicles = traffic(view, rng, duration, lanes=lanes, every=5.0, lorries=0.0)
    return built


def run(built: AidScene, tmp_path):
    built.prepare()
    return analyse_clip(built, True, str(tmp_path))


def raised(result, type_: str, zone: str | None = None) -> list[float]:
    return [t for kind, z, t in result.events if kind == type_ and (zone is None or z == zone)]


def assert_only_in_time(result, incident: Incident) -> None:
    times = raised(result, incident.type, incident.zone)
    assert times, f"{incident.type} not raised; events {result.events}"
    assert incident.start - 1 <= times[0] <= incident.start + TIME_LIMITS[incident.type], (times, incident)
    others = {kind for kind, _, _ in result.events} - {incident.type}
    assert not others, f"also raised {others}: {result.events}"


@pytest.mark.parametrize("view_kind", ["tunnel", "gateway"])
def test_stopped_vehicle(tmp_path, view_kind):
    built = scene(view_kind, 1, 40)
    stopper = Vehicle(1, 6.0, 50 / 3.6, stop_at=30.0)
    built.vehicles.append(stopper)
    built.prepare()
    result = analyse_clip(built, True, str(tmp_path))
    assert_only_in_time(result, Incident("stopped_vehicle", stopper.stopped_at_time, "lane2"))


def test_wrong_way(tmp_path):
    built = scene("tunnel", 2, 35)
    built.vehicles.append(Vehicle(1, 18.0, 40 / 3.6, direction=-1))
    result = run(built, tmp_path)
    y = built.vehicles[-1].track
    entered = next(i for i, v in enumerate(y) if v == v and v <= 50) / built.fps
    assert_only_in_time(result, Incident("wrong_way", entered, "lane2"))


def test_pedestrian_is_counted(tmp_path):
    built = scene("tunnel", 3, 40, lanes=(1, 2))
    built.walkers.append(Walker(18.0, -4.2, 20.0, vy=1.0))
    result = run(built, tmp_path)
    assert_only_in_time(result, Incident("pedestrian", 18.0, "lane1"))


def test_debris(tmp_path):
    built = scene("tunnel", 4, 45, lanes=(0, 2))
    built.debris.append(Debris(18.0, 0.3, 22.0, size=(0.8, 0.6, 0.4), paint=(30, 90, 200)))
    result = run(built, tmp_path)
    assert_only_in_time(result, Incident("debris", 18.0, "lane2"))


def test_slowdown_not_stopped_vehicles(tmp_path):
    built = scene("tunnel", 5, 60, lanes=(0, 1, 2))
    built.vehicles = traffic(built.view, random.Random(5), 60, lanes=(0,), every=2.0, speed_kmh=(55, 70), lorries=0.0)
    built.slowdowns = [(0, 18.0, 0.1)]
    built.prepare()
    result = analyse_clip(built, True, str(tmp_path))
    times = raised(result, "slowdown", "lane1")
    assert times and 18.0 <= times[0] <= 18.0 + 4 + TIME_LIMITS["slowdown"], result.events
    # Once the queue is recognised its standing vehicles are not stopped vehicles. (The head of
    # a queue that halts before two vehicles crawl behind it is still reported as stopped: a
    # known limit, counted in bench/aid.py's false alarms when it happens in incident-free video.)
    assert not [t for t in raised(result, "stopped_vehicle") if t >= times[0]], result.events


@pytest.mark.parametrize("view_kind", ["tunnel", "gateway"])
def test_slowdown_whose_tracks_break(tmp_path, view_kind):
    # Corpus clips (seed 0) the track-based rule missed: in the tunnel the queue's vehicles
    # merge with the wall's glow and fragment after the IR switch, so no two crawling tracks
    # last long enough to be confirmed vehicles 5 m apart; at the gateway the queue builds
    # beyond the zone and the lane holds one crawling vehicle at a time. The lane's speed from
    # its foreground profile (lane_flow.py) needs neither.
    built = incident_scene("slowdown", view_kind, 0)
    incident = built.incidents[0]
    result = analyse_clip(built, True, str(tmp_path))
    times = raised(result, "slowdown", incident.zone)
    assert times and incident.start - 1 <= times[0] <= incident.start + TIME_LIMITS["slowdown"], (incident, result.events)
    assert not [e for e in result.events if e[0] == "slowdown" and e[1] != incident.zone], result.events


def test_smoke(tmp_path):
    built = scene("tunnel", 6, 80)
    built.smoke = Smoke(18.0, 0.0, 35.0, radius=14, grow=30)
    result = run(built, tmp_path)
    times = raised(result, "smoke")
    assert times and 18.0 <= times[0] <= 18.0 + TIME_LIMITS["smoke"], result.events
    assert not {kind for kind, _, _ in result.events} - {"smoke"}, result.events


@pytest.mark.parametrize("region", ["all", "near", "far"])
def test_lighting_step_raises_neither_smoke_nor_tamper(tmp_path, region):
    built = scene("tunnel", 7, 45, steps=[(15.0, 0.6, region), (30.0, 1.6, region)])
    result = run(built, tmp_path)
    assert not [e for e in result.events if e[0] == "smoke" or e[0].startswith("tamper")], result.events
    assert not result.events, result.events


@pytest.mark.parametrize("view_kind", ["tunnel", "gateway"])
def test_headlight_sweeps_and_wet_reflections_raise_no_stopped_vehicle_nor_wrong_way(tmp_path, view_kind):
    built = scene(view_kind, 8, 60, lanes=(0, 1, 2), wet=True, sweeps=12)
    result = run(built, tmp_path)
    assert not result.events, result.events


@pytest.mark.parametrize("back", [None, 35.0])
def test_ir_switch_raises_no_tamper(tmp_path, back):
    built = scene("gateway", 9, 50, ir_at=20.0, ir_back=back)
    result = run(built, tmp_path)
    assert not result.events, result.events


def test_vibration_rain_and_heavy_compression_raise_nothing(tmp_path):
    # (Was a strict xfail: a shaken vehicle fragment passed for a person at 13 s. Since vehicles
    # enter with the follow rule's gap this scene's traffic differs and raises nothing; the
    # fragment-as-person weakness itself is not shown fixed by it.)
    built = scene("gateway", 10, 50, rain=250, crf=42, noise=6, vibration=[(10, 16), (30, 34)], sun=0.6)
    result = run(built, tmp_path)
    assert not result.events, result.events
