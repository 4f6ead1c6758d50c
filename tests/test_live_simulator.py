"""Live view of real RTSP cameras (GStreamer simulator) through ingest, fan-out and relay."""

from __future__ import annotations

import asyncio
import time

import cv2
import httpx
import numpy as np
import pytest

from streams.simulator import CameraSimulator, SimulatedCamera, simulator_available, simulator_unavailable_reason
from tests.support.live_system import live_system
from tests.support.system import camera_entry
from tests.support.whep_client import WhepRefused

pytestmark = pytest.mark.skipif(not simulator_available(), reason=simulator_unavailable_reason() or "")

SMALL = dict(width=320, height=180, fps=25, gop=25, bitrate_kbps=300)
CAMERAS = [
    SimulatedCamera(
        id="tunnel-01", scene="tunnel", sub={"width": 192, "height": 108, "fps": 10, "bitrate_kbps": 150}, **SMALL
    ),
    SimulatedCamera(id="road-02", scene="road", **SMALL),
    SimulatedCamera(id="hevc-03", scene="road", codec="h265", **SMALL),
    SimulatedCamera(id="bframes-04", scene="road", bframes=2, **SMALL),
    SimulatedCamera(id="locked-05", scene="road", username="cam", password="right", **SMALL),
    # a 20 s GOP: 500 packets at 25 fps, more than a snapshot would ever wait for
    SimulatedCamera(id="long-gop-06", scene="ball", width=160, height=96, fps=25, gop=500, bitrate_kbps=100),
    SimulatedCamera(id="locked-08", scene="road", username="cam", password="right", **SMALL),
    # an 8 s GOP, recorded: 200 packets a GOP
    SimulatedCamera(id="long-gop-07", scene="ball", width=160, height=96, fps=25, gop=200, bitrate_kbps=100),
]


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    with CameraSimulator(CAMERAS).start() as sim:
        entries = [
            camera_entry(sim, "tunnel-01", segment_seconds=2, sub_url=sim.url("tunnel-01", "sub")),
            camera_entry(sim, "road-02", segment_seconds=2),
            camera_entry(sim, "hevc-03", recording={"enabled": False}),
            camera_entry(sim, "bframes-04", recording={"enabled": False}),
            camera_entry(sim, "locked-05", credentials={"username": "cam", "password": "wrong"}),
            camera_entry(sim, "long-gop-06", recording={"enabled": False}),
            camera_entry(sim, "long-gop-07", segment_seconds=60),
            # not recorded: its stream starts only when a viewer asks
            camera_entry(sim, "locked-08", recording={"enabled": False},
                         credentials={"username": "cam", "password": "wrong"}),
        ]
        with live_system(tmp_path_factory.mktemp("live-sim"), entries) as system:
            system.sim = sim
            yield system


async def wait_online(system, camera_id: str, stream: str = "main", timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if system.fanout(camera_id, stream).current_info is not None:
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{camera_id}/{stream} did not come online")


async def test_plays_a_recorded_camera_with_one_rtsp_session_for_two_viewers(system):
    await wait_online(system, "tunnel-01")
    index = system.runtime.worker.index
    first = await system.viewer("tunnel-01").start()
    second = None
    try:
        await first.wait_frames(10, timeout=10)
        assert first.codec == "H264" and first.frames[-1][1:] == (320, 180)
        second = await system.viewer("tunnel-01").start()
        await second.wait_frames(10, timeout=10)
        assert second.first_frame_seconds < 1.0  # the relay's GOP cache: no wait for a keyframe
        assert system.sim.sessions("tunnel-01") == 1  # the recorder's pull serves both viewers
        segments_before = len(index.of_camera("tunnel-01"))
        await asyncio.sleep(4.5)
        await first.wait_frames(25)
        await second.wait_frames(25)
        assert len(index.of_camera("tunnel-01")) >= segments_before + 2  # recording went on (2 s segments)
    finally:
        await first.stop()
        if second is not None:
            await second.stop()
    assert system.sim.sessions("tunnel-01") == 1  # viewers leaving do not touch ingest


async def test_sub_stream_on_demand(system):
    viewer = await system.viewer("tunnel-01", stream="sub").start()
    try:
        await viewer.wait_frames(5, timeout=15)
        assert viewer.frames[-1][1:] == (192, 108)
    finally:
        await viewer.stop()


async def test_viewer_sees_the_camera_go_offline_and_come_back(system):
    await wait_online(system, "road-02")
    viewer = await system.viewer("road-02").start()
    try:
        await viewer.wait_frames(10)
        system.sim.stop_camera("road-02")
        await asyncio.sleep(1.0)
        stalled = len(viewer.frames)
        await asyncio.sleep(1.5)
        assert len(viewer.frames) <= stalled + 1, "frames kept coming from a stopped camera"
        system.sim.start_camera("road-02")
        # Same WebRTC session: the relay resumes at the new session's first keyframe.
        await viewer.wait_frames(10, timeout=20)
        assert not viewer.track_ended.is_set()
    finally:
        await viewer.stop()


async def test_h265_camera_refused_unless_transcoding_is_asked_for(system):
    await wait_online(system, "hevc-03")
    with pytest.raises(WhepRefused) as refused:
        await system.viewer("hevc-03").start()
    response = refused.value.response
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
    assert "camera hevc-03 sends hevc; browsers need H.264" in response.json()["detail"]
    viewer = await system.viewer("hevc-03", transcode=True).start()
    try:
        assert viewer.codec == "H264"
        await viewer.wait_frames(5, timeout=15)
        assert viewer.frames[-1][1:] == (320, 180)
    finally:
        await viewer.stop()


async def wait_status(system, camera_id: str, state: str, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = next((s for s in system.runtime.worker.pipeline(camera_id).statuses() if s.stream == "main"), None)
        if status is not None and status.state.value == state:
            return status
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{camera_id} did not reach {state}")


@pytest.mark.parametrize("camera_id", ["locked-05", "locked-08"])
async def test_whep_on_a_camera_in_error_answers_503_with_its_reason(system, camera_id):
    if camera_id == "locked-05":  # recorded: already in error; locked-08 starts with this offer
        await wait_status(system, camera_id, "error")
    with pytest.raises(WhepRefused) as refused:
        await system.viewer(camera_id).start()
    response = refused.value.response
    assert response.status_code == 503 and response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("camera-error")
    assert "authentication failed" in problem["detail"] and "username and password" in problem["detail"]


async def test_b_frame_camera_refused_for_passthrough_and_played_transcoded(system):
    await wait_online(system, "bframes-04")
    deadline = time.monotonic() + 10
    while not system.fanout("bframes-04").b_frames and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    with pytest.raises(WhepRefused) as refused:
        await system.viewer("bframes-04").start()
    response = refused.value.response
    assert response.status_code == 422
    assert "sends B-frames" in response.json()["detail"] and "?transcode=1" in response.json()["detail"]
    viewer = await system.viewer("bframes-04", transcode=True).start()
    try:
        await viewer.wait_frames(25, timeout=20)
        first, last = viewer.frames[0][0], viewer.frames[-1][0]
        # the transcoded picture keeps the camera's pace (25 fps), not a few frames a second
        assert len(viewer.frames) / max(last - first, 1e-3) > 12
    finally:
        await viewer.stop()


async def test_snapshot_of_a_20_s_gop_camera_works_at_once(system):
    await wait_online(system, "long-gop-06")
    deadline = time.monotonic() + 20
    while system.fanout("long-gop-06").latest_keyframe is None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    # No relay exists yet and the next keyframe is up to 20 s away: the fan-out's kept keyframe answers.
    assert all(relay.camera_id != "long-gop-06" for relay in system.hub.relays())
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=system.url, headers=system.auth, timeout=30) as client:
        response = await client.get("/api/cameras/long-gop-06/snapshot.jpg")
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg", response.text
    assert time.monotonic() - started < 3
    image = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (96, 160, 3)


async def test_first_viewer_of_a_long_gop_camera_gets_a_picture_at_once(system):
    """Nobody watched it before; its GOP (8 s) is longer than live.warm_gop_seconds, so the hub
    keeps its GOP cached by itself and the first viewer starts from it, mid-GOP."""
    await wait_online(system, "long-gop-07")
    deadline = time.monotonic() + 30
    relay = None
    while time.monotonic() < deadline:
        relay = next((r for r in system.hub.relays() if r.camera_id == "long-gop-07"), None)
        if relay is not None and relay.gop_packets >= 25:  # a second into a GOP at least
            break
        await asyncio.sleep(0.1)
    else:
        raise TimeoutError("no GOP of the long-GOP camera was kept ready")
    assert relay.viewers == 0
    viewer = await system.viewer("long-gop-07").start()
    try:
        await viewer.wait_frames(1, timeout=15)
        assert viewer.first_frame_seconds < 4, viewer.first_frame_seconds
    finally:
        await viewer.stop()
