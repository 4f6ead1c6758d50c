"""The dashboard's homography (dashboard/static/app/homography.js, run here by node) agrees
with the detector's (streams/detect/calibration.py, OpenCV): the grid and the distances a
technician checks on the calibration screen are the ones the detector will use."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from streams.detect.calibration import GroundPlane
from tests.support.aid_world import View
from vms.config.detection import CalibrationConfig

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node not installed (Debian package nodejs)")

MODULE = Path(__file__).resolve().parents[1] / "dashboard" / "static" / "app" / "homography.js"
# What the calibration screen does with the module: both directions, points through them, distances.
SCRIPT = """
import { homography, invert, project, groundDistance, collinearTriple } from %s;
const input = JSON.parse(process.argv[1]);
const answers = input.cases.map(({ picture, ground, probes, roads, pairs }) => {
  const toGround = homography(picture, ground);
  if (!toGround) return { toGround: null, collinear: collinearTriple(picture) || collinearTriple(ground) };
  const toPicture = invert(toGround);
  return {
    toGround,
    ground: probes.map((p) => { const g = project(toGround, p); return [g.x, g.y]; }),
    picture: roads.map((p) => { const q = project(toPicture, p); return [q.x, q.y]; }),
    distances: pairs.map(([p, q]) => groundDistance(toGround, p, q)),
  };
});
console.log(JSON.stringify(answers));
"""


def run_js(cases: list[dict]) -> list[dict]:
    script = SCRIPT % json.dumps(MODULE.as_uri())
    done = subprocess.run(["node", "--input-type=module", "-e", script, json.dumps({"cases": cases})],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def tunnel_case(view: View) -> tuple[CalibrationConfig, dict]:
    """The simulated tunnel camera's calibration, probes across its picture and road points ahead."""
    config = view.calibration()
    probes = [(u, v) for u in (0.05, 0.3, 0.5, 0.7, 0.95) for v in (0.3, 0.5, 0.75, 0.98)]
    roads = [(x, y) for x in (-3.5, 0.0, 2.0, 5.0) for y in (12.0, 20.0, 35.0, 60.0)]
    pairs = [[probes[0], probes[-1]], [probes[3], probes[7]], [probes[5], probes[14]]]
    return config, {"picture": [list(p) for p in config.picture], "ground": [list(p) for p in config.ground],
                    "probes": probes, "roads": roads, "pairs": pairs}


def test_js_and_opencv_give_the_same_road_for_the_simulated_tunnel():
    view = View("tunnel")
    width, height = view.width, view.height
    config, case = tunnel_case(view)
    [answer] = run_js([case])
    plane = GroundPlane(config, (width, height))
    # Picture -> road: the JS matrix works in fractions, OpenCV's in pixels; the road is the same.
    expected = [plane.ground(u * width, v * height) for u, v in case["probes"]]
    assert np.allclose(answer["ground"], expected, rtol=1e-4, atol=1e-3), (answer["ground"], expected)
    # Road -> picture (the grid drawn over the snapshot), against OpenCV's inverse transform.
    roads = np.array([case["roads"]], np.float64)
    pixels = cv2_to_picture(plane, roads)
    assert np.allclose(np.array(answer["picture"]) * [width, height], pixels, atol=1e-3), answer["picture"]
    # The measure tool: the distance between two picture points on the road.
    for (p, q), metres in zip(case["pairs"], answer["distances"]):
        a, b = plane.ground(p[0] * width, p[1] * height), plane.ground(q[0] * width, q[1] * height)
        assert metres == pytest.approx(float(np.hypot(b[0] - a[0], b[1] - a[1])), rel=1e-4)


def cv2_to_picture(plane: GroundPlane, roads: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.perspectiveTransform(roads.astype(np.float32), plane.to_picture)[0]


def test_a_lane_preset_measures_its_own_sides_and_a_known_figure():
    """A lane 3.5 m wide between two dashes 12 m apart, marked as a trapezoid (near edge wide,
    far edge narrow): the sides measure 3.5 m and 12 m, and the middle of the near edge is at
    (1.75, 0). By hand: the trapezoid's diagonals cross at picture (0.5, 0.5), and a homography
    keeps where diagonals cross, so that is the middle of the lane stretch, road (1.75, 6);
    picture (0.5, 0.6) is checked against OpenCV."""
    picture = [[0.2, 0.9], [0.8, 0.9], [0.65, 0.3], [0.35, 0.3]]
    ground = [[0, 0], [3.5, 0], [3.5, 12], [0, 12]]
    case = {"picture": picture, "ground": ground, "probes": [[0.5, 0.9], [0.5, 0.5], [0.5, 0.6]], "roads": [[1.75, 4.0]],
            "pairs": [[picture[0], picture[1]], [picture[1], picture[2]], [picture[3], picture[0]]]}
    [answer] = run_js([case])
    assert answer["distances"] == pytest.approx([3.5, 12.0, 12.0], abs=1e-9)
    assert answer["ground"][0] == pytest.approx([1.75, 0.0], abs=1e-9)
    assert answer["ground"][1] == pytest.approx([1.75, 6.0], abs=1e-9)
    plane = GroundPlane(CalibrationConfig(picture=[tuple(p) for p in picture], ground=[tuple(p) for p in ground]), (1, 1))
    assert answer["ground"][2] == pytest.approx(list(plane.ground(0.5, 0.6)), abs=1e-5)
    assert answer["picture"][0] == pytest.approx(cv2_to_picture(plane, np.array([[[1.75, 4.0]]])).tolist()[0], abs=1e-5)


def test_three_points_on_a_line_have_no_homography():
    case = {"picture": [[0.1, 0.1], [0.2, 0.2], [0.3, 0.3], [0.1, 0.9]], "ground": [[0, 0], [3.5, 0], [3.5, 12], [0, 12]],
            "probes": [], "roads": [], "pairs": []}
    flat_road = {**case, "picture": [[0.2, 0.9], [0.8, 0.9], [0.65, 0.3], [0.35, 0.3]],
                 "ground": [[0, 0], [3.5, 0], [7, 0], [0, 12]]}
    assert run_js([case, flat_road]) == [{"toGround": None, "collinear": [0, 1, 2]},
                                         {"toGround": None, "collinear": [0, 1, 2]}]
