"""The camera simulator itself: a real GStreamer RTSP server, read back with PyAV over TCP."""

from __future__ import annotations

import json
import subprocess
import time

import av
import numpy as np
import pytest

from streams.simulator import (
    SERVER_SCRIPT,
    SYSTEM_PYTHON,
    CameraSimulator,
    SimulatedCamera,
    SimulatorError,
    simulator_available,
    simulator_unavailable_reason,
)

pytestmark = pytest.mark.skipif(not simulator_available(), reason=simulator_unavailable_reason() or "")

SMALL = dict(width=320, height=180, fps=25, gop=25, bitrate_kbps=300)
CAMERAS = [
    SimulatedCamera(
        id="tunnel-main", scene="tunnel", width=640, height=360, fps=25, gop=25, bitrate_kbps=800,
        sub={"width": 192, "height": 108, "fps": 10, "bitrate_kbps": 150},
    ),
    SimulatedCamera(id="long-gop", scene="ball", width=160, height=96, fps=25, gop=15, bitrate_kbps=150),
    SimulatedCamera(id="sdp-only", sdp_only_parameter_sets=True, **SMALL),
    SimulatedCamera(id="bframes", bframes=2, **SMALL),
    SimulatedCamera(id="hevc", codec="h265", **SMALL),
    SimulatedCamera(id="with-audio", audio=True, **SMALL),
    SimulatedCamera(id="radio", scene="audio-only"),
    SimulatedCamera(id="locked-basic", username="viewer", password="s3cret:/@x", auth="basic", **SMALL),
    SimulatedCamera(id="locked-digest", username="admin", password="d1gest pw", auth="digest", **SMALL),
    SimulatedCamera(id="cut", scene="tunnel", **SMALL),
    SimulatedCamera(id="counted", scene="road", **SMALL),
]


@pytest.fixture(scope="module")
def sim():
    with CameraSimulator(CAMERAS).start() as simulator:
        yield simulator


def open_rtsp(url: str):
    return av.open(url, options={"rtsp_transport": "tcp"}, timeout=10)


def nal_types(packet_bytes: bytes, hevc: bool = False) -> list[int]:
    """Types of the Annex B NAL units in one packet."""
    types, data, start = [], packet_bytes, 0
    while True:
        start = data.find(b"\x00\x00\x01", start)
        if start < 0 or start + 3 >= len(data):
            return types
        header = data[start + 3]
        types.append((header >> 1) & 0x3F if hevc else header & 0x1F)
        start += 3


def read_packets(container, seconds: float, stream=None) -> list[av.Packet]:
    """Video packets until their timestamps span `seconds` (the very first may have no pts)."""
    stream = stream or container.streams.video[0]
    packets, first = [], None
    for packet in container.demux(stream):
        if packet.size == 0:
            continue
        packets.append(packet)
        if packet.pts is None:
            continue
        first = packet.pts if first is None else first
        if (packet.pts - first) * stream.time_base >= seconds:
            return packets
    raise AssertionError("stream ended early")


def fps_of(packets, stream) -> float:
    stamped = [packet.pts for packet in packets if packet.pts is not None]
    return (len(stamped) - 1) / float((max(stamped) - min(stamped)) * stream.time_base)


def keyframe_gaps(packets) -> list[int]:
    keys = [index for index, packet in enumerate(packets) if packet.is_keyframe]
    return [b - a for a, b in zip(keys, keys[1:])]


def test_main_stream_size_codec_gop_and_motion(sim):
    with open_rtsp(sim.url("tunnel-main")) as container:
        video = container.streams.video[0]
        assert video.codec_context.name == "h264"
        assert (video.codec_context.width, video.codec_context.height) == (640, 360)
        packets = read_packets(container, 2.2)
        assert len(keyframe_gaps(packets)) >= 1 and set(keyframe_gaps(packets)) == {25}
        # 25 fps: ~25 packets per second of timestamps
        assert abs(fps_of(packets, video) - 25) < 1.5
        seconds = len(packets) / 25
        assert 0.7 * 800 < sum(packet.size for packet in packets) * 8 / 1000 / seconds < 1.3 * 800  # CBR kbit/s
        frames = [frame.to_ndarray(format="gray") for packet in packets for frame in video.decode(packet)]
    assert len(frames) >= 50
    assert frames[0].shape == (360, 640)
    # below the overlay text: vehicles moved between two frames a second apart
    first, later = frames[10][90:], frames[35][90:]
    assert np.mean(np.abs(first.astype(int) - later.astype(int))) > 1.0
    assert first.std() > 5  # not a flat picture


def test_gop_follows_spec(sim):
    with open_rtsp(sim.url("long-gop")) as container:
        packets = read_packets(container, 2.5)
    assert set(keyframe_gaps(packets)) == {15}


def test_sub_stream_has_its_own_size_and_rate(sim):
    with open_rtsp(sim.url("tunnel-main", "sub")) as container:
        video = container.streams.video[0]
        assert (video.codec_context.width, video.codec_context.height) == (192, 108)
        packets = read_packets(container, 1.5)
        assert abs(fps_of(packets, video) - 10) < 1.0
        assert set(keyframe_gaps(packets)) <= {10}  # gop defaults to the sub's fps


def test_parameter_sets_in_band_by_default(sim):
    with open_rtsp(sim.url("long-gop")) as container:
        packets = read_packets(container, 1.5)
    keyframes = [bytes(packet) for packet in packets if packet.is_keyframe]
    assert keyframes and all(7 in nal_types(data) and 8 in nal_types(data) for data in keyframes)


def test_sdp_only_parameter_sets(sim):
    with open_rtsp(sim.url("sdp-only")) as container:
        video = container.streams.video[0]
        assert video.codec_context.extradata  # from sprop-parameter-sets
        packets = read_packets(container, 2.2)
        keyframes = [bytes(packet) for packet in packets if packet.is_keyframe]
        assert len(keyframes) >= 2
        for data in keyframes:
            types = nal_types(data)
            assert 5 in types, types  # an IDR slice...
            assert 7 not in types and 8 not in types, types  # ...without SPS/PPS in front
        frames = [frame for packet in packets for frame in video.decode(packet)]
    assert len(frames) >= 40 and frames[0].width == 320


def test_bframes_reorder(sim):
    with open_rtsp(sim.url("bframes")) as container:
        packets = read_packets(container, 2)
        frames = [frame for packet in packets for frame in container.streams.video[0].decode(packet)]
    assert any(packet.dts is not None and packet.pts != packet.dts for packet in packets)
    assert set(keyframe_gaps(packets)) == {25}
    assert len(frames) >= 40


def test_h265(sim):
    with open_rtsp(sim.url("hevc")) as container:
        video = container.streams.video[0]
        assert video.codec_context.name == "hevc"
        packets = read_packets(container, 1.5)
        frames = [frame for packet in packets for frame in video.decode(packet)]
    assert (frames[0].width, frames[0].height) == (320, 180)
    keyframes = [bytes(packet) for packet in packets if packet.is_keyframe]
    assert keyframes and all({32, 33, 34} <= set(nal_types(data, hevc=True)) for data in keyframes)  # VPS SPS PPS


def test_audio_track_and_audio_only_camera(sim):
    with open_rtsp(sim.url("with-audio")) as container:
        assert [s.type for s in container.streams] == ["video", "audio"]
        assert container.streams.audio[0].codec_context.name == "pcm_alaw"
        kinds = set()
        for packet in container.demux():
            if packet.size:
                kinds.add(packet.stream.type)
            if kinds == {"video", "audio"}:
                break
    with open_rtsp(sim.url("radio")) as container:
        assert not container.streams.video
        audio = container.streams.audio[0]
        assert audio.codec_context.name == "pcm_alaw"
        packet = next(p for p in container.demux(audio) if p.size)
        assert packet.size > 0


@pytest.mark.parametrize("camera_id", ["locked-basic", "locked-digest"])
def test_auth(sim, camera_id):
    camera = sim.cameras[camera_id]
    bare = sim.url(camera_id)
    wrong = bare.replace("rtsp://", f"rtsp://{camera.username}:wrong@")
    other_id = "locked-digest" if camera_id == "locked-basic" else "locked-basic"
    other = sim.url(other_id, with_credentials=True).replace(f"/{other_id}/", f"/{camera_id}/")
    for url in (bare, wrong, other):
        with pytest.raises(av.error.FFmpegError) as failure:
            open_rtsp(url).close()
        assert "401" in str(failure.value) or "authoriz" in str(failure.value).lower()
    with open_rtsp(sim.url(camera_id, with_credentials=True)) as container:
        assert container.streams.video[0].codec_context.width == 320
        assert read_packets(container, 0.5)


def test_stop_cuts_clients_and_start_brings_camera_back(sim):
    url = sim.url("cut")
    container = open_rtsp(url)
    try:
        read_packets(container, 0.5)
        sim.stop_camera("cut")
        stopped = time.monotonic()
        with pytest.raises((av.error.FFmpegError, OSError, StopIteration, AssertionError)):
            read_packets(container, 30)
        assert time.monotonic() - stopped < 3
    finally:
        container.close()
    assert sim.sessions("cut") == 0
    with pytest.raises(av.error.FFmpegError) as failure:
        open_rtsp(url).close()
    assert "404" in str(failure.value) or "not found" in str(failure.value).lower()
    sim.start_camera("cut")
    with open_rtsp(url) as container:
        assert len(read_packets(container, 1.0)) >= 20


def test_sessions_counts_rtsp_clients(sim):
    assert sim.sessions("counted") == 0
    first = open_rtsp(sim.url("counted"))
    second = open_rtsp(sim.url("counted"))
    try:
        read_packets(first, 0.3)
        read_packets(second, 0.3)
        assert sim.sessions("counted") == 2
        assert sim.sessions("cut") == 0
    finally:
        first.close()
        second.close()
    deadline = time.monotonic() + 3
    while sim.sessions("counted") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sim.sessions("counted") == 0


def test_unknown_camera_and_path(sim):
    with pytest.raises(KeyError):
        sim.sessions("nope")
    with pytest.raises(av.error.FFmpegError):
        open_rtsp(f"rtsp://127.0.0.1:{sim.port}/nope/main").close()


def test_server_protocol_and_exit_on_stdin_eof():
    spec = json.dumps([{"id": "p1", "scene": "ball", "width": 64, "height": 64}])
    process = subprocess.Popen(
        [SYSTEM_PYTHON, str(SERVER_SCRIPT), "--port", "0", "--spec-json", spec],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        ready = process.stdout.readline().split()
        assert ready[0] == "ready" and int(ready[1]) > 0
        answers = []
        for command in ("sessions p1", "bogus", "stop p9", "stop p1", "start p1"):
            process.stdin.write(command + "\n")
            process.stdin.flush()
            answers.append(process.stdout.readline().strip())
        assert answers[0] == "sessions p1 0"
        assert answers[1].startswith("error") and answers[2].startswith("error")
        assert answers[3:] == ["ok stop p1", "ok start p1"]
        process.stdin.close()  # the parent "dies"
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_simulator_reports_a_bad_spec():
    with pytest.raises(SimulatorError, match="bad spec"):
        CameraSimulator([SimulatedCamera(id="x", sub={"width": 8})]).start(timeout=10)
