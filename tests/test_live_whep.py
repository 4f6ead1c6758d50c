"""WHEP signaling and H.264 passthrough end to end, with an aiortc viewer (no browser).

The cameras here are fed generated H.264 straight into their fan-out (tests/support/feeder.py),
so these run without the RTSP simulator; test_live_simulator.py repeats the essentials with it.
"""

from __future__ import annotations

import asyncio
import time

import cv2
import httpx
import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender

from tests.support.feeder import PacketFeeder
from tests.support.live_system import live_system, offline_camera
from tests.support.whep_client import WhepRefused, make_offer

SDP = {"Content-Type": "application/sdp"}


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    cameras = [offline_camera("cam1"), offline_camera("h265cam"), offline_camera("dark")]
    with live_system(tmp_path_factory.mktemp("live"), cameras, live={"idle_seconds": 5}) as system:
        feeders = [
            PacketFeeder(system.fanout("cam1"), 320, 180).start(),
            PacketFeeder(system.fanout("h265cam"), 320, 180, codec="hevc").start(),
        ]
        yield system
        for feeder in feeders:
            feeder.stop()


def assert_problem(response: httpx.Response, status: int, *words: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert set(problem) == {"type", "title", "status", "detail"} and problem["status"] == status
    for word in words:
        assert word in problem["detail"]
    return problem


async def test_aiortc_viewer_plays_h264_chosen_over_vp8(system):
    viewer = await system.viewer("cam1").start()
    try:
        assert viewer.location.startswith("/api/cameras/cam1/whep/")
        offer = viewer.pc.localDescription.sdp
        offer_codecs = [line.split()[1] for line in offer.splitlines() if line.startswith("a=rtpmap:")]
        assert offer_codecs[0].startswith("VP8"), "aiortc offers VP8 first"
        assert viewer.codec == "H264"
        assert "packetization-mode=1" in viewer.answer
        await viewer.wait_frames(25, timeout=10)
        assert {(w, h) for _, w, h in viewer.frames} == {(320, 180)}
        session = system.hub.session(viewer.location.rsplit("/", 1)[1])
        assert session is not None and session.track.frames_sent >= 25 and not session.transcoded
    finally:
        assert await viewer.stop() == 200
    assert system.hub.session(viewer.location.rsplit("/", 1)[1]) is None


async def test_a_second_viewer_starts_from_the_gop_cache_at_once(system):
    first = await system.viewer("cam1").start()
    try:
        await first.wait_frames(5)
        second = await system.viewer("cam1").start()
        await second.wait_frames(1, timeout=5)
        # Cached GOP: no wait for the next keyframe (up to 1 s here) beyond connecting.
        assert second.first_frame_seconds < 1.0
        await second.stop()
    finally:
        await first.stop()


async def test_pli_restarts_the_viewer_from_the_cached_keyframe(system):
    viewer = await system.viewer("cam1").start()
    try:
        await viewer.wait_frames(10)
        session = system.hub.session(viewer.location.rsplit("/", 1)[1])
        before = session.track.restarts
        viewer.request_keyframe()
        deadline = time.monotonic() + 5
        while session.track.restarts == before and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert session.track.keyframe_requests >= 1 and session.track.restarts == before + 1
        await viewer.wait_frames(10)  # and it keeps playing
    finally:
        await viewer.stop()


async def test_transcoded_fallback_on_request(system):
    viewer = await system.viewer("cam1", transcode=True).start()
    try:
        assert viewer.codec == "H264"
        await viewer.wait_frames(10, timeout=15)
        assert viewer.frames[-1][1:] == (320, 180)
        assert system.hub.session(viewer.location.rsplit("/", 1)[1]).transcoded
    finally:
        await viewer.stop()


async def test_h265_camera_is_refused_with_a_reason(system):
    with pytest.raises(WhepRefused) as refused:
        await system.viewer("h265cam").start()
    assert_problem(refused.value.response, 422, "h265cam sends hevc", "browsers need H.264", "transcode=1")


async def test_unknown_camera_and_stream(system):
    _, offer = await make_offer()
    async with httpx.AsyncClient(base_url=system.url, headers=system.auth) as client:
        assert_problem(await client.post("/api/cameras/nope/whep", content=offer, headers=SDP), 404, "nope")
        assert_problem(await client.post("/api/cameras/cam1/whep?stream=sub", content=offer, headers=SDP), 404, "sub")
        assert_problem(await client.post("/api/cameras/cam1/whep?stream=x", content=offer, headers=SDP), 400)


async def test_malformed_requests(system):
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    transceiver = pc.addTransceiver("video", direction="recvonly")
    vp8 = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/VP8"]
    transceiver.setCodecPreferences(vp8)
    await pc.setLocalDescription(await pc.createOffer())
    vp8_only = pc.localDescription.sdp
    await pc.close()
    async with httpx.AsyncClient(base_url=system.url, headers=system.auth) as client:
        plain = {"Content-Type": "text/plain"}
        assert_problem(await client.post("/api/cameras/cam1/whep", content="v=0", headers=plain), 415)
        assert_problem(await client.post("/api/cameras/cam1/whep", content="hello", headers=SDP), 400)
        assert_problem(await client.post("/api/cameras/cam1/whep", content=vp8_only, headers=SDP), 400, "H.264")
        assert_problem(await client.delete("/api/cameras/cam1/whep/nosuchsession"), 404)
        options = await client.options("/api/cameras/cam1/whep")
        assert options.status_code == 204 and options.headers["accept-post"] == "application/sdp"
        trickle = {"Content-Type": "application/trickle-ice-sdpfrag"}
        assert_problem(await client.patch("/api/cameras/cam1/whep/x", content="", headers=trickle), 405)
    assert system.hub.sessions() == []


async def test_snapshot_is_a_jpeg_of_the_requested_width(system):
    async with httpx.AsyncClient(base_url=system.url, headers=system.auth, timeout=10) as client:
        full = await client.get("/api/cameras/cam1/snapshot.jpg")
        assert full.status_code == 200 and full.headers["content-type"] == "image/jpeg"
        image = cv2.imdecode(np.frombuffer(full.content, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape == (180, 320, 3)
        small = await client.get("/api/cameras/cam1/snapshot.jpg?width=160")
        image = cv2.imdecode(np.frombuffer(small.content, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape == (90, 160, 3)
        renders = system.hub.snapshots.renders
        again = await client.get("/api/cameras/cam1/snapshot.jpg?width=160")
        assert again.content == small.content and system.hub.snapshots.renders == renders  # cached
        assert_problem(await client.get("/api/cameras/dark/snapshot.jpg"), 503, "no picture")
        assert_problem(await client.get("/api/cameras/nope/snapshot.jpg"), 404)
        assert_problem(await client.get("/api/cameras/cam1/snapshot.jpg?width=5"), 400)


async def test_viewer_limits(tmp_path):
    cameras = [offline_camera("a"), offline_camera("b")]
    limits = {"max_viewers_per_camera": 2, "max_viewers_total": 3}
    with live_system(tmp_path, cameras, live=limits) as system:
        pcs, offers = zip(*[await make_offer() for _ in range(5)])
        async with httpx.AsyncClient(base_url=system.url, headers=system.auth) as client:

            def post(camera: str, offer: str):
                return client.post(f"/api/cameras/{camera}/whep", content=offer, headers=SDP)

            assert (await post("a", offers[0])).status_code == 201
            assert (await post("a", offers[1])).status_code == 201
            problem = assert_problem(await post("a", offers[2]), 503, "camera a", "limit of 2")
            assert problem["type"].endswith("viewer-limit")
            located = await post("b", offers[3])
            assert located.status_code == 201
            assert_problem(await post("b", offers[4]), 503, "limit of 3")
            # Ending a session frees its place.
            assert (await client.delete(located.headers["location"])).status_code == 200
            assert (await post("b", offers[4])).status_code == 201
        for pc in pcs:
            await pc.close()
