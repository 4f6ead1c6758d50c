"""The AID corpus's truth holds for its traffic: incident-free clips have no queue in view (a
false alarm counted there must be the detector's fault, not a jam the simulation made), and a
slowdown clip does slow its lane. Simulation only, no rendering: fast."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.aid_corpus import incident_scene, quiet_scene
from tests.support.aid_world import ZONE_FAR, Vehicle, View, simulate


def _in_view_speeds_kmh(vehicles: list[Vehicle], view: View, lane: int) -> list[np.ndarray]:
    """Per frame, the speeds (km/h) of the lane's vehicles inside the watched stretch."""
    frames = len(vehicles[0].track)
    out = []
    for i in range(frames):
        speeds = [v.speeds[i] * 3.6 for v in vehicles
                  if v.lane == lane and not np.isnan(v.track[i]) and view.near <= v.track[i] <= ZONE_FAR]
        out.append(np.array(speeds))
    return out


@pytest.mark.parametrize("view_kind", ["tunnel", "gateway"])
@pytest.mark.parametrize("seed", [500, 501, 502])
def test_incident_free_traffic_never_queues_in_view(view_kind, seed):
    scene = quiet_scene(view_kind, seed, 300)
    for lane in range(scene.view.lanes):
        per_frame = _in_view_speeds_kmh(scene.vehicles, scene.view, lane)
        slowest = min((s.min() for s in per_frame if s.size), default=None)
        assert slowest is None or slowest >= 25, f"lane {lane}: a vehicle at {slowest:.0f} km/h in an incident-free clip"
        lane_means = [s.mean() for s in per_frame if s.size]
        assert not lane_means or min(lane_means) >= 30, f"lane {lane}: lane speed {min(lane_means):.0f} km/h"


def test_a_vehicle_entering_too_close_waits_upstream_instead_of_braking_in_view():
    view = View("tunnel")
    leader = Vehicle(0, 0.0, 30 / 3.6, "lorry")
    follower = Vehicle(0, 0.5, 80 / 3.6, "car")  # would appear 4 m behind the lorry at 80 km/h
    simulate(view, [leader, follower], 40.0, 5)
    seen = ~np.isnan(follower.track)
    assert seen.any()
    assert follower.speeds[seen].min() * 3.6 >= 25  # follows at the lorry's pace, never halts
    gaps = leader.track[seen] - follower.track[seen] - follower.size[1]
    assert np.nanmin(gaps) >= 2.0


def test_a_slowdown_clip_slows_its_lane():
    scene = incident_scene("slowdown", "tunnel", 500)
    incident = scene.incidents[0]
    lane = int(incident.zone[-1]) - 1
    per_frame = _in_view_speeds_kmh(scene.vehicles, scene.view, lane)
    later = [s.mean() for s in per_frame[int((incident.start + 5) * scene.fps):] if s.size]
    assert later and np.median(later) < 30
