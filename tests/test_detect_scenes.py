"""Each detector on synthetic tunnel scenes with known truth, through the real decode path.

Every scene is rendered, encoded to H.264 with PyAV, published on a PacketFanout as ingest
would, decoded by the detection pipeline and analysed; the events it records are compared
with what truly happened (``Scene.truth``).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.support.scenes import (
    ROAD_POLYGON,
    Scene,
    Vehicle,
    encode,
    lane_centre,
    run_scene,
    scenario,
    traffic,
    tunnel_detection,
)
from vms.config.detection import MaskConfig, ZoneConfig

LATENCY = 2.0  # seconds of media time from the scene change to the event


def events_of(kind: str, seed: int = 0, config=None, **scene_changes):
    scene = scenario(kind, seed)
    for key, value in scene_changes.items():
        setattr(scene, key, value)
    config = config or tunnel_detection()
    encoded = encode(scene)
    log, pipeline = run_scene(encoded, config)
    return scene, encoded, log, pipeline, config


def raised(log, encoded, type_: str) -> list[float]:
    """Scene times at which events of ``type_`` were raised."""
    return [encoded.scene_time(e.detected_at) for e in log.of(type_)]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("stopped", "stopped_vehicle"),
        ("wrong_way", "wrong_way"),
        ("pedestrian", "pedestrian"),
        ("congestion", "congestion"),
        ("covered", "tamper_covered"),
        ("defocus", "tamper_defocus"),
        ("moved", "tamper_moved"),
    ],
)
@pytest.mark.parametrize("seed", [0, 1])
def test_incident_raises_its_event_in_time_and_nothing_else(kind, expected, seed):
    scene, encoded, log, pipeline, config = events_of(kind, seed)
    truth = [t for t in scene.truth(config) if t.type == expected]
    assert len(truth) == 1
    times = raised(log, encoded, expected)
    assert len(times) == 1, f"{scene.name}: {expected} raised at {times}"
    assert truth[0].due - 1.0 <= times[0] <= truth[0].due + LATENCY, f"due {truth[0].due:.1f}, raised {times[0]:.1f}"
    others = {e.type for e in log.events} - {expected, "motion"}
    assert not others, f"{scene.name}: unexpected {others}"
    assert pipeline.stats.dropped_frames == 0 and pipeline.dropped_packets == 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_flicker_and_noise_alone_raise_nothing(seed):
    scene, encoded, log, pipeline, _ = events_of("quiet", seed, flicker=0.12, noise=4.0)
    assert log.events == [], [(e.type, encoded.scene_time(e.detected_at)) for e in log.events]
    assert pipeline.stats.frames >= 75  # 16 s at 5 fps, less the last partial slot


@pytest.mark.parametrize("seed", [0, 1])
def test_ordinary_traffic_is_only_motion(seed):
    scene, encoded, log, _, _ = events_of("traffic", seed)
    assert {e.type for e in log.events} == {"motion"}
    first = min(start for start, _ in scene.motion_intervals())
    assert raised(log, encoded, "motion")[0] <= first + LATENCY


def test_stopped_vehicle_event_ends_when_it_drives_on_and_snapshot_shows_it():
    rng_traffic = traffic(__import__("random").Random(5), 24, lanes=(1, 2))
    stopper = Vehicle(0, 1.0, speed=0.2, paint=(235, 235, 230), stop_at=0.5, stop_for=8)
    scene = Scene(name="stops-then-goes", duration=20, vehicles=[stopper, *rng_traffic], noise=3, seed=5)
    encoded = encode(scene)
    config = tunnel_detection()
    log, _ = run_scene(encoded, config)
    [event] = log.of("stopped_vehicle")
    stopped = stopper.stop_time()
    assert encoded.scene_time(event.start) == pytest.approx(stopped, abs=0.7)  # start: when it stopped
    assert stopped + 4 - 1 <= encoded.scene_time(event.detected_at) <= stopped + 4 + LATENCY
    # It drove on: the event ends once its place is empty for the traffic end delay.
    assert stopped + 8 <= encoded.scene_time(event.end) <= stopped + 8 + config.traffic.end_seconds + 1.0
    x1, y1, x2, y2 = event.details["box"]
    assert abs((x1 + x2) / 2 - 0.5) < 0.06 and abs((y1 + y2) / 2 - lane_centre(0)) < 0.05
    picture = cv2.imdecode(np.frombuffer(event.snapshot, np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape[:2] == (180, 320)  # the snapshot is the full picture, box drawn on it


def test_camera_rolled_is_moved_not_defocused():
    scene, encoded, log, _, _ = events_of("moved", 4, moved_shift=(0.02, 0.0), moved_angle=12.0)
    assert len(log.of("tamper_moved")) == 1
    assert not log.of("tamper_defocus") and not log.of("stopped_vehicle")


def test_masked_area_and_zone_rules():
    # Traffic only in lane 0, which is masked: no motion. A zone without a direction: no wrong-way.
    rng = __import__("random").Random(3)
    wrong = Vehicle(2, 5.0, speed=0.2, direction=-1)
    scene = Scene(name="masked", duration=12, vehicles=[*traffic(rng, 12, lanes=(0,)), wrong], seed=3)
    top = lane_centre(0)
    mask = MaskConfig(name="lane 0", polygon=[(0, top - 0.1), (1, top - 0.1), (1, top + 0.1), (0, top + 0.1)])
    lower = ZoneConfig(id="lower", polygon=[(0, 0.5), (1, 0.5), (1, 0.85), (0, 0.85)], vehicle_only=False)
    config = tunnel_detection(masks=[mask], zones=[lower])
    log, _ = run_scene(encode(scene), config)
    motion = log.of("motion")
    assert len(motion) == 1 and motion[0].zone == "lower"  # only the wrong-way vehicle below moved
    assert not log.of("wrong_way")
    directed = tunnel_detection(masks=[mask], zones=[lower.model_copy(update={"direction": (1.0, 0.0)})])
    log, _ = run_scene(encode(scene), directed)
    assert len(log.of("wrong_way")) == 1 and log.of("wrong_way")[0].zone == "lower"


def test_keyframes_only_mode_still_sees_tampering():
    scene = scenario("covered", 2)
    scene.gop = 5  # two keyframes a second at 10 fps
    encoded = encode(scene)
    config = tunnel_detection(decode="keyframes")
    log, pipeline = run_scene(encoded, config)
    assert pipeline.decoder.stats.decoded == pytest.approx(len(encoded.packets) / 5, abs=1)
    assert pipeline.decoder.stats.skipped_packets > 0
    [covered] = log.of("tamper_covered")
    assert scene.covered_at <= encoded.scene_time(covered.detected_at) <= scene.covered_at + LATENCY


def test_zone_polygon_confines_traffic_rules():
    # The same stopped vehicle outside the only zone raises nothing.
    scene = scenario("stopped", 0)
    upper_only = ZoneConfig(id="walls", polygon=[(0, 0), (1, 0), (1, 0.2), (0, 0.2)], stopped_seconds=4, vehicle_only=True)
    log, _ = run_scene(encode(scene), tunnel_detection(zones=[upper_only]))
    assert not log.of("stopped_vehicle") and not log.of("pedestrian")
    assert ROAD_POLYGON  # the standard zone used elsewhere covers the road
