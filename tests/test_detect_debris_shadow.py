"""A strip left by a building's shadow edge that moved is not debris (docs/decisions.md 180).

At a gateway the shadow of a building creeps across the road with the sun. The reference
background follows it only where nothing is in front of it: where traffic kept it from
learning for a while, the strip between the old edge and the new one grows wide enough to
stay foreground, and then, never learned, it stands still, debris-sized: the gateways' false
debris in `bench/aid.py` (quiet gateway clips 1 and 2). The scene draws that state directly:
the background is learned with the edge in one place, then over a 2 m stretch of road the
edge lies 0.3 m further on (the rest of the edge in place, as the background followed it
there). Rendered, encoded and decoded as in `tests/test_detect_aid.py`."""

from __future__ import annotations

import random

import numpy as np

from bench.aid import analyse_clip
from tests.support.aid_scenes import AidScene, _Renderer
from tests.support.aid_world import Debris, View, traffic

EDGE_M = 2.2  # lateral place (m) of the shadow's edge: lane 3, lit beyond it
SHIFT_AT, SHIFT_M, STRETCH_M = 12.0, 0.3, (14.0, 16.0)


class _ShadowRenderer(_Renderer):
    def _sunlight(self, frame: np.ndarray, t: float) -> np.ndarray:
        edge = np.full(self.bg.lateral.shape, EDGE_M, np.float32)
        if t >= SHIFT_AT:
            low, high = STRETCH_M
            edge[(self.bg.depth >= low) & (self.bg.depth <= high)] += SHIFT_M
        lit = (self.bg.lateral > edge) & (self.bg.depth < 200)
        frame[lit] *= 1 + self.s.sun
        return frame


class _ShadowScene(AidScene):
    def frames(self):
        renderer = _ShadowRenderer(self)
        for i in range(int(round(self.duration * self.fps))):
            yield i / self.fps, renderer.render(i)


def _scene(seed: int, duration: float) -> _ShadowScene:
    view = View("gateway")
    built = _ShadowScene(f"shadow-{seed}", view, duration, seed, noise=2.5, crf=28, wet=False, sun=0.6)
    built.vehicles = traffic(view, random.Random(seed), duration, lanes=(0, 1), every=5.0, lorries=0.0)
    return built


def _debris_times(result) -> list[float]:
    return [t for kind, _, t in result.events if kind == "debris"]


def test_strip_left_by_a_moved_shadow_edge_is_not_debris(tmp_path):
    built = _scene(31, 32)
    built.prepare()
    result = analyse_clip(built, True, str(tmp_path))
    assert not _debris_times(result), result.events


def test_debris_across_the_shadow_edge_is_still_found(tmp_path):
    # It covers a stretch of the edge, so part of its outline is an edge the picture lost; the
    # rest is its own. (Painted the grey of the sunlit road, its sunlit half would not differ
    # from the background: what is left reads as the edge moved, and it is not found.)
    built = _scene(32, 40)
    built.debris.append(Debris(12.0, EDGE_M, 20.0, size=(0.8, 0.6, 0.4), paint=(200, 200, 200)))
    built.prepare()
    result = analyse_clip(built, True, str(tmp_path))
    times = _debris_times(result)
    assert times and 12.0 <= times[0] <= 12.0 + 30, result.events
