"""The built-in RTSP client (streams/rtsp): payload formats, SDP, auth, and recording through it.

The unit tests packetize known NAL units the way RFC 6184/7798 senders do and check what comes
back; the rest record from the GStreamer simulator with ``ingest.rtsp_client: builtin`` and
check the index and files as `vms recordings verify` does (tests/support/clock_checks.py).
"""

from __future__ import annotations

import base64
import logging
import struct
import time

import pytest

from streams.rtsp.auth import AuthUnsupported, Credentials
from streams.rtsp.rtp import AccessUnitAssembler
from streams.rtsp.sdp import SdpUnsupported, video_track
from streams.simulator import CameraSimulator, SimulatedCamera, simulator_available
from tests.support.clock_checks import check_recording
from tests.support.system import FAST_INGEST, camera_entry, make_settings, running_worker
from tests.support.clock_checks import wait_packets
from tests.support.rtsp_proxy import rtsp_proxy
from tests.support.rtsp_redirect import rtsp_redirect
from tests.test_recording_rtsp import SMALL, check_segments

needs_simulator = pytest.mark.skipif(not simulator_available(), reason="GStreamer RTSP server (Debian packages) missing")
BUILTIN = {**FAST_INGEST, "rtsp_client": "builtin"}
START = b"\x00\x00\x00\x01"


def rtp(seq: int, ts: int, payload: bytes, marker: bool = False, pt: int = 96) -> bytes:
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF, ts & 0xFFFFFFFF, 1234) + payload


def fu_a(nal: bytes, size: int) -> list[bytes]:
    """RFC 6184 FU-A fragments of one H.264 NAL unit, ``size`` payload bytes each."""
    body, chunks = nal[1:], []
    for i in range(0, len(body), size):
        start, end = i == 0, i + size >= len(body)
        chunks.append(bytes([(nal[0] & 0xE0) | 28, (0x80 if start else 0) | (0x40 if end else 0) | (nal[0] & 0x1F)])
                      + body[i:i + size])
    return chunks


def assemble(codec: str, packets: list[bytes]) -> tuple[list[tuple[bytes, int, bool]], AccessUnitAssembler]:
    units: list[tuple[bytes, int, bool]] = []
    assembler = AccessUnitAssembler(codec, 96, lambda data, pts, key, arrival: units.append((data, pts, key)))
    for packet in packets:
        assembler.push(packet)
    assembler.read_done(1000.0, 0.05)
    return units, assembler


SPS, PPS = b"\x67\x42\x00\x1f\xaa", b"\x68\xce\x3c\x80"
IDR = b"\x65" + bytes(range(256)) * 8
SLICE = b"\x41" + bytes(range(100))


def test_h264_stap_a_and_fu_a_become_annex_b_access_units_with_keyframes():
    stap = b"\x18" + struct.pack("!H", len(SPS)) + SPS + struct.pack("!H", len(PPS)) + PPS
    fragments = fu_a(IDR, 500)
    packets = [rtp(1, 0xFFFFFF00, stap)] + [rtp(2 + i, 0xFFFFFF00, f, i == len(fragments) - 1) for i, f in enumerate(fragments)]
    packets.append(rtp(2 + len(fragments), 0xFFFFFF00 + 3600, SLICE, True))  # the 32-bit timestamp wraps here
    units, assembler = assemble("h264", packets)
    assert units == [(START + SPS + START + PPS + START + IDR, 0, True), (START + SLICE, 3600, False)]
    assert assembler.lost_packets == 0 and assembler.dropped_units == 0


def test_h264_lost_fragment_drops_only_its_access_unit_and_is_counted():
    fragments = fu_a(IDR, 500)
    packets = [rtp(1 + i, 0, f, i == len(fragments) - 1) for i, f in enumerate(fragments) if i != 2]
    packets.append(rtp(1 + len(fragments), 3600, SLICE, True))
    units, assembler = assemble("h264", packets)
    assert units == [(b"", 0, False), (START + SLICE, 3600, False)]  # empty: the lost picture, reported
    assert assembler.lost_packets == 1 and assembler.dropped_units == 1


def test_a_unit_cut_short_before_its_marker_is_dropped_once_the_sender_marks_its_units():
    # A stream spliced (or its encoder restarted) mid-unit: the next timestamp comes before the
    # marker. Parameter sets without their picture are dropped quietly; part of a picture is
    # dropped and reported as a lost picture (empty data), never handed on as a whole one.
    stap = b"\x18" + struct.pack("!H", len(SPS)) + SPS + struct.pack("!H", len(PPS)) + PPS
    slice_two = b"\x41" + bytes(range(50, 150))
    packets = [
        rtp(1, 0, SLICE, True),  # the sender marks the end of its units
        rtp(2, 3600, stap),  # cut: its IDR never came
        rtp(3, 7200, IDR, True),
        rtp(4, 10800, SLICE),  # cut: the picture's second slice never came
        rtp(5, 14400, slice_two, True),
    ]
    units, assembler = assemble("h264", packets)
    assert units == [(START + SLICE, 0, False), (START + IDR, 7200, True), (b"", 10800, False),
                     (START + slice_two, 14400, False)]
    assert assembler.lost_packets == 0 and assembler.dropped_units == 2


def test_a_sender_that_never_marks_its_units_ends_them_at_the_next_timestamp():
    packets = [rtp(1, 0, SPS), rtp(2, 0, PPS), rtp(3, 0, IDR), rtp(4, 3600, SLICE), rtp(5, 7200, SLICE)]
    units, assembler = assemble("h264", packets)
    assert units == [(START + SPS + START + PPS + START + IDR, 0, True), (START + SLICE, 3600, False)]
    assert assembler.dropped_units == 0  # the last unit waits for the next timestamp


def test_h265_fragmentation_and_aggregation_units():
    vps, sps, pps = b"\x40\x01\x0c", b"\x42\x01\x01", b"\x44\x01\xc0"
    idr = b"\x26\x01" + bytes(range(200)) * 4  # IDR_W_RADL (19)
    ap = b"\x60\x01" + b"".join(struct.pack("!H", len(n)) + n for n in (vps, sps, pps))
    body = idr[2:]
    fus = [b"\x62\x01" + bytes([(0x80 if i == 0 else 0) | (0x40 if i + 300 >= len(body) else 0) | 19]) + body[i:i + 300]
           for i in range(0, len(body), 300)]
    packets = [rtp(1, 90, ap)] + [rtp(2 + i, 90, fu, i == len(fus) - 1) for i, fu in enumerate(fus)]
    units, _ = assemble("hevc", packets)
    assert units == [(START + vps + START + sps + START + pps + START + idr, 0, True)]


def test_sdp_video_track_parameter_sets_and_control():
    sprop = f"{base64.b64encode(SPS).decode()},{base64.b64encode(PPS).decode()}"
    sdp = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\na=control:*\r\n"
           "m=audio 0 RTP/AVP 8\r\na=control:stream=1\r\n"
           "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
           f"a=fmtp:96 packetization-mode=1;profile-level-id=42001f;sprop-parameter-sets={sprop}\r\n"
           "a=framerate:15\r\na=control:trackID=2\r\n")
    track = video_track(sdp, "rtsp://cam:554/live/main/")
    assert (track.codec, track.payload_type, track.clock_rate, track.fps) == ("h264", 96, 90000, 15.0)
    assert track.control == "rtsp://cam:554/live/main/trackID=2"
    assert track.extradata == START + SPS + START + PPS
    with pytest.raises(SdpUnsupported, match="MP4V-ES"):
        video_track(sdp.replace("H264/90000", "MP4V-ES/90000"), "rtsp://cam/")
    with pytest.raises(SdpUnsupported, match="interleaved"):
        video_track(sdp.replace("packetization-mode=1", "packetization-mode=2"), "rtsp://cam/")


def test_digest_is_preferred_and_answers_rfc_2617():
    credentials = Credentials("Mufasa", "Circle Of Life")
    credentials.challenge('Basic realm="cam", Digest realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093"')
    header = credentials.header("GET", "/dir/index.html")
    assert header is not None and header.startswith("Digest ")
    # RFC 2617 3.5 without qop: response = MD5(HA1:nonce:HA2) for these values.
    assert 'response="670fd8c2df070c60b045671b8b24ff02"' in header
    with pytest.raises(AuthUnsupported):
        Credentials("a", "b").challenge('Bearer realm="x"')


def built_in_used(caplog, camera_id: str) -> bool:
    return any(f"camera {camera_id}/main: built-in RTSP client" in r.getMessage() for r in caplog.records)


@needs_simulator
@pytest.mark.parametrize("camera", [
    SimulatedCamera(id="h264-b", bframes=2, **SMALL),
    SimulatedCamera(id="hevc", codec="h265", **SMALL),
    SimulatedCamera(id="sdp-only", sdp_only_parameter_sets=True, **SMALL),
], ids=lambda camera: camera.id)
def test_records_through_the_builtin_client_and_verifies_clean(tmp_path, caplog, camera):
    with CameraSimulator([camera]).start() as sim, caplog.at_level(logging.INFO, logger="streams.ingest"):
        settings = make_settings(tmp_path, [camera_entry(sim, camera.id, segment_seconds=3)], ingest=BUILTIN)
        with running_worker(settings) as (worker, statuses):
            online = statuses.wait_state(camera.id, "online", timeout=30)
            wait_packets(worker, camera.id, camera.fps * 7)
    stopped = time.time()  # recording goes on until the worker has stopped the camera
    assert built_in_used(caplog, camera.id), "the camera fell back to FFmpeg"
    assert (online["width"], online["height"]) == (SMALL["width"], SMALL["height"])
    check_recording(worker, camera.id, camera.fps, stopped)
    segments = check_segments(worker.index, worker.recordings_dir, camera.id, "hevc" if camera.codec == "h265" else "h264")
    assert sum(s.frames for s in segments) >= camera.fps * 5


@needs_simulator
def test_digest_auth_through_the_builtin_client_and_a_wrong_password_is_a_clear_error(tmp_path, caplog):
    secret = "S3cret!pass"
    camera = SimulatedCamera(id="cam-auth", username="viewer", password=secret, auth="digest", **SMALL)
    with CameraSimulator([camera]).start() as sim:
        cameras = [
            camera_entry(sim, "cam-auth", credentials={"username": "viewer", "password": secret}),
            {"id": "cam-wrong", "name": "wrong", "group": "tunnel", "main_url": sim.url("cam-auth"),
             "credentials": {"username": "viewer", "password": "not-" + secret}},
        ]
        with caplog.at_level(logging.DEBUG), running_worker(make_settings(tmp_path, cameras, ingest=BUILTIN)) as (worker, statuses):
            statuses.wait_state("cam-auth", "online", timeout=30)
            error = statuses.wait_state("cam-wrong", "error", timeout=30)
            wait_packets(worker, "cam-auth", 50)
    assert built_in_used(caplog, "cam-auth")
    assert "authentication failed" in error["error"] and "401" in error["error"]
    assert secret not in caplog.text + repr(statuses.messages)
    assert check_segments(worker.index, worker.recordings_dir, "cam-auth")
    assert worker.index.of_camera("cam-wrong") == []


@needs_simulator
def test_a_redirect_is_followed_by_the_builtin_client_and_the_camera_records(tmp_path, caplog):
    camera = SimulatedCamera(id="cam-moved", **SMALL)
    with CameraSimulator([camera]).start() as sim, rtsp_redirect(sim.url(camera.id)) as moved, \
            caplog.at_level(logging.INFO, logger="streams"):
        entry = {**camera_entry(sim, camera.id, segment_seconds=3), "main_url": moved.url}
        with running_worker(make_settings(tmp_path, [entry], ingest=BUILTIN)) as (worker, statuses):
            statuses.wait_state(camera.id, "online", timeout=30)
            wait_packets(worker, camera.id, 60)
    assert moved.answered >= 1, "the redirecting address was never asked"
    assert built_in_used(caplog, camera.id), "the camera fell back to FFmpeg"
    assert "cannot take this stream" not in caplog.text
    assert check_segments(worker.index, worker.recordings_dir, camera.id)


@needs_simulator
def test_udp_only_camera_falls_back_to_ffmpeg_and_records(tmp_path, caplog):
    camera = SimulatedCamera(id="udp-only", protocols="udp", **SMALL)
    with CameraSimulator([camera]).start() as sim, caplog.at_level(logging.INFO):
        settings = make_settings(tmp_path, [camera_entry(sim, camera.id, segment_seconds=3)], ingest=BUILTIN)
        with running_worker(settings) as (worker, statuses):
            online = statuses.wait_state(camera.id, "online", timeout=30)
            wait_packets(worker, camera.id, 60)
    assert online["rtsp_client"] == "ffmpeg", "the status shows the client in use, not the one configured"
    assert not built_in_used(caplog, camera.id)
    assert "built-in RTSP client cannot take this stream" in caplog.text
    assert check_segments(worker.index, worker.recordings_dir, camera.id)


def test_units_of_one_paced_read_get_arrivals_spread_over_the_read_window():
    arrivals: list[float] = []
    assembler = AccessUnitAssembler("h264", 96, lambda data, pts, key, arrival: arrivals.append(arrival))
    assembler.push(rtp(1, 0, SLICE, True))
    assembler.read_done(1000.0, 0.05)  # first read: the window is one interval back
    for i in range(2, 6):
        assembler.push(rtp(i, 3600 * i, SLICE, True))
    assembler.read_done(1000.04, 0.05)  # four units since the previous read, 40 ms ago
    assembler.push(rtp(6, 3600 * 6, SLICE, True))
    assembler.read_done(1003.0, 0.05)  # after a stall: it arrived within the last interval
    assert arrivals == pytest.approx([1000.0, 1000.01, 1000.02, 1000.03, 1000.04, 1003.0])


def test_repeated_parameter_sets_in_a_keyframe_are_not_a_change():
    from streams.parameter_sets import ParameterSetWatch

    watch = ParameterSetWatch("h264")
    idr = START + IDR
    assert watch.changed(START + SPS + START + PPS + idr) is None  # sets from the SDP, once each
    assert watch.changed(START + SPS + START + PPS + START + SPS + START + PPS + idr) is None  # repeated in-band
    other = b"\x67\x64\x00\x28\xac"
    assert watch.changed(START + other + START + PPS + idr) == START + other + START + PPS


def test_parameter_sets_in_another_order_are_not_a_change():
    """A session joining a shared GStreamer mount while its pipeline starts gets a first keyframe
    without its leading AUD and SPS: PPS, SEIs, then the payloader's SPS and PPS (decision 135).
    The next keyframe carries the same sets in the usual order; bench.record logged that as a
    parameter set change (and started a new segment) on 52 of 120 cameras."""
    from streams.parameter_sets import ParameterSetWatch

    watch = ParameterSetWatch("h264")
    aud, sei = b"\x09\xf0", b"\x06\x05\x01\x80"
    idr = START + IDR
    first = START + PPS + START + sei + START + sei + START + SPS + START + PPS + idr
    usual = START + aud + START + SPS + START + PPS + START + sei + START + SPS + START + PPS + idr
    assert watch.changed(first) is None
    assert watch.changed(usual) is None
    other = b"\x67\x64\x00\x28\xac"
    assert watch.changed(START + PPS + START + other + idr) == START + other + START + PPS  # SPS first


@needs_simulator
@pytest.mark.parametrize("global_client", ["ffmpeg", "builtin"])
def test_each_camera_is_pulled_by_its_own_rtsp_client_in_one_worker(tmp_path, caplog, global_client):
    """A camera's ``rtsp_client`` wins over ``ingest.rtsp_client`` either way; both record."""
    cameras = [SimulatedCamera(id="own-builtin", **SMALL), SimulatedCamera(id="own-ffmpeg", **SMALL)]
    with CameraSimulator(cameras).start() as sim, caplog.at_level(logging.INFO, logger="streams"):
        entries = [camera_entry(sim, "own-builtin", segment_seconds=3, rtsp_client="builtin"),
                   camera_entry(sim, "own-ffmpeg", segment_seconds=3, rtsp_client="ffmpeg")]
        settings = make_settings(tmp_path, entries, ingest={**FAST_INGEST, "rtsp_client": global_client})
        with running_worker(settings) as (worker, statuses):
            online = {camera.id: statuses.wait_state(camera.id, "online", timeout=30) for camera in cameras}
            for camera in cameras:
                wait_packets(worker, camera.id, 50)
    assert {cid: status["rtsp_client"] for cid, status in online.items()} == {
        "own-builtin": "builtin", "own-ffmpeg": "ffmpeg"}
    assert built_in_used(caplog, "own-builtin")
    assert not built_in_used(caplog, "own-ffmpeg")
    assert "cannot take this stream" not in caplog.text  # chosen, not fallen back
    for camera in cameras:
        assert check_segments(worker.index, worker.recordings_dir, camera.id)


@needs_simulator
def test_a_lost_packet_leaves_out_its_picture_and_what_depends_on_it_until_the_next_keyframe(tmp_path):
    camera = SimulatedCamera(id="cam-loss", **SMALL)
    with CameraSimulator([camera]).start() as sim, rtsp_proxy(sim.url(camera.id)) as proxy:
        entry = camera_entry(sim, camera.id, segment_seconds=4)
        entry["main_url"] = proxy.url(sim.url(camera.id))
        with running_worker(make_settings(tmp_path, [entry], ingest=BUILTIN)) as (worker, statuses):
            statuses.wait_state(camera.id, "online", timeout=30)
            wait_packets(worker, camera.id, 3 * camera.fps)
            proxy.lose_packet()
            wait_packets(worker, camera.id, 4 * camera.fps)
            seen = dict(next(s for s in worker.statuses() if s.camera_id == camera.id).discontinuities)
    assert [kind for kind, _, _ in proxy.injected] == ["lost"]
    assert seen.get("lost") == 1, seen
    # Every file decodes (a damaged picture or one depending on it would not); the hole lasts
    # up to one GOP (the pictures up to the next keyframe).
    _, gaps = check_recording(worker, camera.id, camera.fps, time.time(), ragged_ends=True)
    real = [(at, size) for at, size in gaps if size > 0.1]
    assert len(real) <= 1 and all(size <= camera.gop / camera.fps + 0.2 for _, size in real), gaps
