"""Playback of real recordings: the MP4 decodes, covers the range within 0.5 s, and is a pure remux."""

from __future__ import annotations

import io
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from sqlalchemy import func, select

from tests.support.api import api_system
from tests.support.recordings import record
from vms.db import Segment
from vms.db.auth import AuditEntry
from vms.recordings.playback import UnsafePath, segment_file

# Recent enough for an operator's 30-minute look-back; whole seconds keep the arithmetic readable.
T0 = float(int(time.time()) - 300)


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, timezone.utc)


def _source_packets(recordings_dir: Path, db, camera_id: str) -> list[bytes]:
    with db.session() as session:
        paths = list(session.scalars(select(Segment.path).where(Segment.camera_id == camera_id).order_by(Segment.start)))
    packets = []
    for path in paths:
        with av.open(str(recordings_dir / path)) as container:
            packets += [bytes(p) for p in container.demux(video=0) if p.size]
    return packets


def _decode(data: bytes) -> tuple[list[float], list[bytes]]:
    """Presentation times of every decoded frame (decoding errors raise) and the packets' bytes."""
    with av.open(io.BytesIO(data)) as container:
        packets = [bytes(p) for p in container.demux(video=0) if p.size]
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        stream.codec_context.options = {"err_detect": "explode"}
        times = [float(frame.pts * stream.time_base) for frame in container.decode(stream)]
    return sorted(times), packets


@pytest.fixture
async def recorded(tmp_path):
    async with api_system(tmp_path) as system:
        recordings = system.runtime.settings.recordings_dir
        system.add_camera("tun-1")
        record(system.db, recordings, "tun-1", T0, seconds=10, segment_seconds=3, session=1)
        record(system.db, recordings, "tun-1", T0 + 14, seconds=4, segment_seconds=3, session=2)  # 4 s gap
        system.add_camera("tun-2")
        record(system.db, recordings, "tun-2", T0, seconds=6, segment_seconds=3, bframes=2)
        yield system


async def _play(system, camera_id: str, start: datetime, end: datetime, role: str = "investigator"):
    return await system.client.get(
        f"/api/cameras/{camera_id}/playback.mp4", params={"start": start.isoformat(), "end": end.isoformat()},
        headers=system.token(role),
    )


@pytest.mark.parametrize("camera_id", ["tun-1", "tun-2"])
async def test_playback_covers_the_range_and_copies_the_recorded_bytes(recorded, camera_id):
    system = recorded
    start, end = at(1.3), at(4.7)
    response = await _play(system, camera_id, start, end)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "video/mp4"
    media_start = datetime.fromisoformat(response.headers["x-playback-start"])
    offset = float(response.headers["x-playback-offset"])
    times, packets = _decode(response.content)
    walls = [media_start + timedelta(seconds=t) for t in times]
    # The player seeks to the offset: the picture shown there is the requested second.
    shown = next(w for t, w in zip(times, walls) if t >= offset - 1e-6)
    assert abs((shown - start).total_seconds()) <= 0.5
    assert walls[0] <= start and abs((walls[-1] - end).total_seconds()) <= 0.5
    # Remux only: every packet is a recorded packet, unchanged and in order.
    source = _source_packets(system.runtime.settings.recordings_dir, system.db, camera_id)
    first = source.index(packets[0])
    assert source[first:first + len(packets)] == packets
    with system.db.session() as session:
        (entry,) = session.scalars(select(AuditEntry).where(AuditEntry.action == "playback"))
    assert entry.username == "investigator" and entry.target == camera_id and entry.client_ip == "10.20.30.40"


async def test_a_gap_stays_a_gap_in_time_and_shows_on_the_timeline(recorded):
    system = recorded
    from vms.db.events import EventRow

    with system.db.session() as session:
        session.add(EventRow(camera_id="tun-1", group_id="tunnel", type="stopped_vehicle", start=at(5), end=at(9),
                             detected_at=at(6), clip_start=at(0), details={}))
    response = await _play(system, "tun-1", at(8), at(16))
    assert response.status_code == 200 and response.headers["x-playback-gaps"] == "1"
    media_start = datetime.fromisoformat(response.headers["x-playback-start"])
    times, _ = _decode(response.content)
    jumps = [(b - a) for a, b in zip(times, times[1:]) if b - a > 1]
    assert len(jumps) == 1 and jumps[0] == pytest.approx(4.04, abs=0.05)
    assert abs((media_start + timedelta(seconds=times[-1]) - at(16)).total_seconds()) <= 0.5
    day = at(0).date().isoformat()
    timeline = (await system.client.get("/api/cameras/tun-1/timeline", params={"day": day},
                                        headers=system.token("investigator"))).json()
    assert [(e["type"], e["start"]) for e in timeline["events"]] == [("stopped_vehicle", at(5).isoformat())]
    if at(18).date() == at(0).date():
        assert timeline["recordings"] == [[at(0).isoformat(), at(10).isoformat()], [at(14).isoformat(), at(18).isoformat()]]
        assert timeline["gaps"] == [[at(10).isoformat(), at(14).isoformat()]]


async def test_who_may_play_back_what(recorded):
    system = recorded
    assert (await _play(system, "tun-1", at(1), at(3), role="operator")).status_code == 200
    old = datetime.now(timezone.utc) - timedelta(hours=2)
    refused = await _play(system, "tun-1", old, old + timedelta(minutes=1), role="operator")
    assert refused.status_code == 403 and refused.json()["type"] == "/problems/beyond-lookback"
    params = refused.json()["params"]
    assert params["minutes"] == 30 and datetime.fromisoformat(params["from"]) > old  # the UI says it in its own words
    timeline = await system.client.get("/api/cameras/tun-1/timeline", params={"start": old.isoformat(), "end": at(30).isoformat()},
                                       headers=system.token("operator"))
    assert timeline.json()["available_from"] is not None
    assert (await _play(system, "tun-1", old, old + timedelta(minutes=1))).status_code == 404  # investigators: no limit, no recording
    assert (await _play(system, "tun-1", at(1), at(3), role="technician")).status_code == 403
    assert (await _play(system, "tun-1", at(3), at(1))).status_code == 400
    assert (await _play(system, "tun-1", at(0), at(0) + timedelta(hours=7))).status_code == 400
    naive = await system.client.get("/api/cameras/tun-1/playback.mp4", params={"start": "2026-01-01T00:00:00", "end": "2026-01-01T00:01:00"},
                                    headers=system.token("admin"))
    assert naive.status_code == 400


async def test_index_paths_outside_the_recordings_folder_are_never_opened(recorded, tmp_path):
    system = recorded
    outside = tmp_path / "secret.mp4"
    outside.write_bytes(b"not for you")
    start = at(100)
    with system.db.session() as session:
        for number, path in enumerate(["../secret.mp4", str(outside), "tun-1/../../secret.mp4"]):
            session.add(Segment(camera_id="tun-1", start=start + timedelta(seconds=10 * number),
                                end=start + timedelta(seconds=10 * number + 5), path=path, bytes=11, codec="h264"))
    for number in range(3):
        response = await _play(system, "tun-1", at(101 + 10 * number), at(103 + 10 * number))
        assert response.status_code == 500 and response.json()["type"] == "/problems/bad-index"
        assert "not for you" not in response.text
    recordings = system.runtime.settings.recordings_dir
    for bad in ("../x.mp4", "/etc/passwd", "a/../../x.mp4"):
        with pytest.raises(UnsafePath):
            segment_file(recordings, bad)
    (recordings / "link").symlink_to(tmp_path)
    with pytest.raises(UnsafePath):
        segment_file(recordings, "link/secret.mp4")


async def test_recorded_picture_for_thumbnails_and_dragging(recorded):
    system = recorded
    investigator = system.token("investigator")
    url = "/api/cameras/tun-1/picture.jpg"
    first = await system.client.get(url, params={"at": at(2.5).isoformat(), "width": 160}, headers=investigator)
    assert first.status_code == 200 and first.headers["content-type"] == "image/jpeg", first.text
    picture = cv2.imdecode(np.frombuffer(first.content, np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape[1] == 160 and picture.shape[0] == 120
    gap = await system.client.get(url, params={"at": at(500).isoformat()}, headers=investigator)
    assert gap.status_code == 404
    assert (await system.client.get(url, params={"at": at(2.5).isoformat()},
                                    headers=system.token("technician"))).status_code == 403
    # Many pictures, one audit entry.
    await system.client.get(url, params={"at": at(5).isoformat()}, headers=investigator)
    with system.db.session() as session:
        assert session.scalar(select(func.count()).where(AuditEntry.action == "playback.pictures")) == 1
