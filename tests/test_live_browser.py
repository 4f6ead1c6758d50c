"""The live wall page in real headless Chromium: WHEP from plain JS, H.264 decoded in every tile."""

from __future__ import annotations

import asyncio
import time

import pytest

from streams.simulator import CameraSimulator, SimulatedCamera, simulator_available, simulator_unavailable_reason
from tests.support.browser import artifact, chromium, chromium_available, console_log, wall_stats
from tests.support.live_system import live_system
from tests.support.system import camera_entry

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not simulator_available(), reason=simulator_unavailable_reason() or ""),
    pytest.mark.skipif(not chromium_available(), reason="Chromium or Playwright missing"),
]

SMALL = dict(width=320, height=180, fps=25, gop=25, bitrate_kbps=300)
CAMERA_IDS = ["tunnel-01", "road-02", "tunnel-03", "road-04"]
B_FRAMES = "bframes-05"


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    cameras = [SimulatedCamera(id=cid, scene=cid.split("-")[0], label=cid, **SMALL) for cid in CAMERA_IDS]
    cameras.append(SimulatedCamera(id=B_FRAMES, scene="road", bframes=2, **SMALL))
    with CameraSimulator(cameras).start() as sim:
        entries = [camera_entry(sim, cid, segment_seconds=10) for cid in [*CAMERA_IDS, B_FRAMES]]
        with live_system(tmp_path_factory.mktemp("live-browser"), entries) as system:
            system.sim = sim
            yield system


async def wait_tiles(page, predicate, timeout: float, what: str) -> list[dict]:
    deadline = time.monotonic() + timeout
    stats: list[dict] = []
    while time.monotonic() < deadline:
        stats = await wall_stats(page)
        if stats and predicate(stats):
            return stats
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}: {stats}\n" + "\n".join(console_log()[-10:]))


async def test_2x2_wall_decodes_h264_in_every_tile(system):
    async with chromium(1280, 720) as page:
        await system.login(page)
        await page.goto(system.url + "/live?cameras=" + ",".join(CAMERA_IDS))
        all_live = lambda s: len(s) == 4 and all(t["state"] == "live" for t in s)  # noqa: E731
        first = await wait_tiles(page, all_live, 20, "4 live tiles")
        wanted = [t["framesDecoded"] + 25 for t in first]  # a second at 25 fps, however slow the machine
        later = await wait_tiles(page, lambda s: len(s) == 4 and all(t["framesDecoded"] >= n for t, n in zip(s, wanted)),
                                 30, "25 more frames decoded in every tile")
        await page.screenshot(path=str(artifact("live-wall-2x2.png")))
        assert [t["camera"] for t in later] == CAMERA_IDS
        for after in later:
            assert (after["frameWidth"], after["frameHeight"]) == (320, 180)
            assert after["codec"] == "video/H264"
        names = await page.locator(".tile .name").all_inner_texts()
        assert all(cid in name for cid, name in zip(CAMERA_IDS, names))  # its name, or its id when signed out
    # The page left: its sessions end (pagehide DELETE, or, when that DELETE is lost, the hub no
    # longer hearing the browser for viewer_timeout_seconds; a loaded machine needs the latter).
    deadline = time.monotonic() + 2 * system.runtime.settings.live.viewer_timeout_seconds + 15
    while system.hub.sessions() and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert system.hub.sessions() == []


async def test_tile_shows_a_camera_going_offline_and_recovers(system):
    camera = "road-04"
    async with chromium(640, 360) as page:
        await system.login(page)
        await page.goto(system.url + f"/live?cameras={camera}")
        await wait_tiles(page, lambda s: s[0]["state"] == "live", 20, "a live tile")
        tile = page.locator(f'.tile[data-camera="{camera}"]')
        system.sim.stop_camera(camera)
        try:
            # The browser only sees frames stop: it says the picture is frozen, not that it is live.
            await wait_tiles(page, lambda s: s[0]["state"] == "stalled", 10, "the tile to show the picture frozen")
            assert "frozen" in await tile.locator(".state").inner_text()
            await page.screenshot(path=str(artifact("live-tile-offline.png")))
        finally:
            system.sim.start_camera(camera)
        stats = await wait_tiles(page, lambda s: s[0]["state"] == "live", 25, "the tile to come back live")
        frames = stats[0]["framesDecoded"]
        await wait_tiles(page, lambda s: s[0]["framesDecoded"] > frames + 10, 5, "frames after recovery")


async def test_b_frame_camera_is_refused_with_its_reason_and_plays_smoothly_transcoded(system):
    deadline = time.monotonic() + 20
    while not system.fanout(B_FRAMES).b_frames and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    async with chromium(640, 360) as page:
        await system.login(page)
        await page.goto(system.url + f"/live?cameras={B_FRAMES}")
        await wait_tiles(page, lambda s: s[0]["state"] == "error", 20, "the tile to show the refusal")
        detail = await page.locator(f'.tile[data-camera="{B_FRAMES}"] .detail').inner_text()
        assert "B-frames" in detail and "transcode=1" in detail
        await page.goto(system.url + f"/live?cameras={B_FRAMES}&transcode=1")
        first = (await wait_tiles(page, lambda s: s[0]["state"] == "live" and s[0].get("framesDecoded", 0) > 0,
                                  30, "a live transcoded tile"))[0]
        started = time.monotonic()
        await asyncio.sleep(3)
        later = (await wall_stats(page))[0]
        fps = (later["framesDecoded"] - first["framesDecoded"]) / (time.monotonic() - started)
        # Chromium decodes the camera's 25 fps, not the ~5 fps of B-frames sent as they are
        print(f"B-frame camera transcoded in Chromium: {fps:.1f} fps")
        assert fps > 18, (first, later)
        assert later["codec"] == "video/H264"
