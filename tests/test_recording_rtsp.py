"""Record from a real RTSP server (GStreamer simulator) through ingest, fan-out and recorder."""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path

import av
import pytest

from streams.simulator import CameraSimulator, SimulatedCamera, simulator_available
from tests.support.cluster import wait_for
from tests.support.media import decode_all
from tests.support.system import camera_entry, make_settings, running_worker
from vms.recordings.index import SegmentIndex

pytestmark = pytest.mark.skipif(not simulator_available(), reason="GStreamer RTSP server (Debian packages) missing")

SMALL = {"width": 320, "height": 180, "fps": 25, "gop": 25, "bitrate_kbps": 300}


def check_segments(index: SegmentIndex, recordings_dir: Path, camera_id: str, codec: str = "h264"):
    """Every indexed segment exists, has the indexed size, starts with a keyframe and decodes cleanly."""
    segments = index.of_camera(camera_id)
    assert segments, f"no segments recorded for {camera_id}"
    on_disk = sorted(p.relative_to(recordings_dir).as_posix() for p in (recordings_dir / camera_id).rglob("*.mp4"))
    assert on_disk == sorted(s.path for s in segments)
    for segment in segments:
        path = recordings_dir / segment.path
        assert segment.end is not None
        assert path.stat().st_size == segment.bytes
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == codec
            first = next(container.demux(stream))
            assert first.is_keyframe, f"{segment.path} does not start with a keyframe"
        try:
            frames = decode_all(path)
        except av.error.FFmpegError as exc:
            neighbours = [(s.start.isoformat(), s.end.isoformat(), s.frames) for s in segments]
            raise AssertionError(f"{segment.path} does not decode cleanly ({exc}); segments: {neighbours}") from exc
        assert frames == segment.frames
    return segments


def test_records_two_cameras_continuously_with_keyframe_cuts(tmp_path):
    cameras = [SimulatedCamera(id="tunnel-01", scene="tunnel", **SMALL), SimulatedCamera(id="road-01", scene="road", **SMALL)]
    with CameraSimulator(cameras).start() as sim:
        settings = make_settings(tmp_path, [camera_entry(sim, c.id, segment_seconds=3) for c in cameras])
        with running_worker(settings) as (worker, statuses):
            online = {c.id: statuses.wait_state(c.id, "online", timeout=20) for c in cameras}
            time.sleep(10)
            stopped_at = time.time()
        for camera in cameras:
            segments = check_segments(worker.index, worker.recordings_dir, camera.id)
            assert len(segments) >= 3
            # Cut at the first keyframe after 3 s, keyframe every second: whole seconds.
            for segment in segments[:-1]:
                assert segment.duration_seconds == pytest.approx(3.0, abs=0.05)
                assert segment.keyframes == 3
            for before, after in zip(segments, segments[1:]):
                assert abs((after.start - before.end).total_seconds()) < 0.05
            recorded = sum(s.duration_seconds for s in segments)
            wall = stopped_at - segments[0].start.timestamp()
            assert recorded == pytest.approx(wall, rel=0.02), f"{camera.id}: {recorded:.2f} s recorded over {wall:.2f} s"
            assert online[camera.id]["codec"] == "h264"
            assert (online[camera.id]["width"], online[camera.id]["height"]) == (320, 180)


def test_camera_outage_is_a_gap_and_recording_resumes(tmp_path):
    cameras = [SimulatedCamera(id="gate-01", scene="road", **SMALL), SimulatedCamera(id="gate-02", scene="road", **SMALL)]
    with CameraSimulator(cameras).start() as sim:
        settings = make_settings(tmp_path, [camera_entry(sim, c.id, segment_seconds=4) for c in cameras])
        with running_worker(settings) as (worker, statuses):
            statuses.wait_state("gate-01", "online", timeout=20)
            time.sleep(3)
            mark = len(statuses.messages)
            sim.stop_camera("gate-01")
            stopped = time.time()
            offline = statuses.wait_state("gate-01", "offline", timeout=10, after=mark)
            assert offline["error"]
            time.sleep(max(0.0, 10 - (time.time() - stopped)))
            sim.start_camera("gate-01")
            restarted = time.time()
            statuses.wait_state("gate-01", "online", timeout=15, after=mark)
            online_again = time.time()
            time.sleep(4)
            other_states = statuses.states("gate-02")  # repeats (heartbeats) collapsed
        states = statuses.states("gate-01")
        # online, then down (offline; "error" too while the server answers 404), then online again.
        assert states[0:2] == ["connecting", "online"] and states[-2:] == ["online", "stopped"], states
        assert states[2] == "offline" and set(states[2:-2]) <= {"offline", "error"}, states
        assert other_states == ["connecting", "online"], f"the other camera was disturbed: {other_states}"
        segments = check_segments(worker.index, worker.recordings_dir, "gate-01")
        gaps = [
            (before.end, after.start)
            for before, after in zip(segments, segments[1:])
            if (after.start - before.end).total_seconds() > 1
        ]
        assert len(gaps) == 1, f"expected one gap, got {gaps}"
        gap_start, gap_end = gaps[0]
        assert gap_start.timestamp() == pytest.approx(stopped, abs=1.5)
        assert gap_end.timestamp() >= restarted - 0.5
        # Recording resumes at the first keyframe after the reconnect (one every second). When the
        # reconnect comes depends on the retry backoff (up to 2.4 s) and on load, so the bound is
        # the "online" status the test saw, not a fixed outage length.
        assert gap_end.timestamp() <= online_again + 1.5, (gap_end.timestamp() - online_again)
        check_segments(worker.index, worker.recordings_dir, "gate-02")


VARIANTS = [
    (SimulatedCamera(id="cam-hevc", codec="h265", **SMALL), "hevc"),
    (SimulatedCamera(id="cam-bframes", bframes=2, **SMALL), "h264"),
    (SimulatedCamera(id="cam-sdp-only", sdp_only_parameter_sets=True, **SMALL), "h264"),
    (SimulatedCamera(id="cam-audio", audio=True, **SMALL), "h264"),
    (SimulatedCamera(id="cam-odd", scene="ball", width=322, height=182, fps=15, gop=45, bitrate_kbps=300), "h264"),
]


def closed_frames(index: SegmentIndex, camera_id: str) -> int:
    return sum(s.frames for s in index.of_camera(camera_id) if s.end is not None)


# The built-in client and FFmpeg (the default, and every camera's fallback): each must record
# every variant. All variants share one worker, as on a site: an odd camera must not disturb
# the others.
@pytest.mark.parametrize("rtsp_client", ["builtin", "ffmpeg"])
def test_real_camera_variants_record_playable_segments(tmp_path, rtsp_client):
    cameras = [camera for camera, _ in VARIANTS]
    with CameraSimulator(cameras).start() as sim:
        entries = [camera_entry(sim, camera.id, segment_seconds=3, rtsp_client=rtsp_client) for camera in cameras]
        settings = make_settings(tmp_path, entries)
        with running_worker(settings) as (worker, statuses):
            for camera in cameras:
                statuses.wait_state(camera.id, "online", timeout=30)
            # At least 5 s of pictures in closed segments of every camera (so at least one cut).
            wait_for(lambda: all(closed_frames(worker.index, c.id) >= c.fps * 5 for c in cameras), 60,
                     "every variant recorded 5 s in closed segments")
        for camera, codec in VARIANTS:
            segments = check_segments(worker.index, worker.recordings_dir, camera.id, codec)
            assert sum(s.frames for s in segments) >= camera.fps * 5


def test_credentials_work_and_never_reach_logs_or_status(tmp_path, caplog):
    secret = "S3cret!pass"
    camera = SimulatedCamera(id="cam-auth", username="viewer", password=secret, auth="digest", **SMALL)
    with CameraSimulator([camera]).start() as sim:
        cameras = [
            camera_entry(sim, "cam-auth", credentials={"username": "viewer", "password": secret}),
            {
                "id": "cam-wrong",
                "name": "wrong password",
                "group": "tunnel",
                "main_url": sim.url("cam-auth"),
                "credentials": {"username": "viewer", "password": "not-" + secret},
            },
        ]
        with caplog.at_level(logging.DEBUG), running_worker(make_settings(tmp_path, cameras)) as (worker, statuses):
            statuses.wait_state("cam-auth", "online", timeout=20)
            error = statuses.wait_state("cam-wrong", "error", timeout=20)
            time.sleep(2)
        assert "authentication failed" in error["error"] and "401" in error["error"]
        everything = caplog.text + repr(statuses.messages)
        assert secret not in everything
        assert check_segments(worker.index, worker.recordings_dir, "cam-auth")
        assert worker.index.of_camera("cam-wrong") == []


@pytest.fixture
def silent_port():
    """A loopback port that accepts TCP connections and never answers (a hung camera)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def test_bad_cameras_get_clear_errors_while_good_ones_record(tmp_path, silent_port):
    good = SimulatedCamera(id="good", **SMALL)
    audio_only = SimulatedCamera(id="radio", scene="audio-only")
    with CameraSimulator([good, audio_only]).start() as sim:
        cameras = [
            camera_entry(sim, "good", segment_seconds=3),
            camera_entry(sim, "radio"),
            {"id": "nowhere", "name": "refused", "group": "rented", "main_url": "rtsp://127.0.0.1:9/none"},
            {"id": "bad-path", "name": "404", "group": "rented", "main_url": f"rtsp://127.0.0.1:{sim.port}/no/such"},
            {"id": "blackhole", "name": "timeout", "group": "rented", "main_url": f"rtsp://127.0.0.1:{silent_port}/x"},
        ]
        with running_worker(make_settings(tmp_path, cameras)) as (worker, statuses):
            radio = statuses.wait_state("radio", "error", timeout=20)
            refused = statuses.wait_state("nowhere", "offline", timeout=20)
            missing = statuses.wait_state("bad-path", "error", timeout=20)
            silent = statuses.wait_state("blackhole", "offline", timeout=25)
            statuses.wait_state("good", "online", timeout=20)
            time.sleep(4)
        assert "no video track" in radio["error"]
        assert "connection refused at 127.0.0.1:9" in refused["error"]
        assert "404" in missing["error"] and "path not found" in missing["error"]
        assert f"no answer from 127.0.0.1:{silent_port}" in silent["error"]
        assert check_segments(worker.index, worker.recordings_dir, "good")
        for camera_id in ("radio", "nowhere", "bad-path", "blackhole"):
            assert worker.index.of_camera(camera_id) == []
