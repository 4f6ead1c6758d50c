"""Motion search over recordings: a scripted movement in a region is found, nothing elsewhere;
through the API with progress, access rules and audit."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from streams.search.keyframes import KeyframeMotion
from streams.simulator.recording import Movement, synthesize_recording
from tests.support.api import api_system, make_settings
from vms.db import Database
from vms.db.auth import AuditEntry
from vms.recordings.index import SegmentIndex
from vms.recordings.locate import SegmentFiles
from vms.recordings.motion_search import MotionSearch, MotionSearches, Region

T0 = float(int(time.time()) - 3600)
LANE = (0.1, 0.4, 0.3, 0.3)
SKY = (0.6, 0.0, 0.35, 0.3)


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, timezone.utc)


def test_finds_the_movement_in_its_region_only_and_across_gaps(tmp_path):
    settings = make_settings(tmp_path)
    db = Database(settings.effective_database_url)
    db.create_schema()
    synthesize_recording(SegmentIndex(db), settings.recordings_dir, "tun-1", T0, 120,
                         (Movement(40, 52, LANE), Movement(90, 95, SKY)), segment_seconds=20)
    # A second run after a gap: its first keyframe must not be compared with the last one before.
    synthesize_recording(SegmentIndex(db), settings.recordings_dir, "tun-1", T0 + 200, 30, (Movement(0, 30, SKY),),
                         segment_seconds=20)
    searches = MotionSearches(db, SegmentFiles.of(settings), KeyframeMotion)

    def run(region, start=0, end=240, sensitivity=0.02) -> MotionSearch:
        return searches.run(MotionSearch("t", "tun-1", Region(*region), at(start), at(end), sensitivity, "me"))

    lane = run(LANE)
    assert lane.state == "done" and lane.progress == 1.0
    assert [(round((m.start - at(0)).total_seconds()), round((m.end - at(0)).total_seconds())) for m in lane.moments] \
        == [(39, 52)], lane.moments
    assert 145 <= lane.keyframes <= 150  # one a second over 150 s of recording
    sky = run(SKY)
    assert [round((m.start - at(0)).total_seconds()) for m in sky.moments] == [89, 201]
    # A range that misses the movement finds nothing; an insensitive search neither.
    assert run(LANE, 60, 120).moments == []
    assert run(LANE, sensitivity=0.9).moments == []


async def test_motion_search_api_reports_progress_and_is_audited(tmp_path):
    async with api_system(tmp_path) as system:
        system.add_camera("tun-1")
        system.add_camera("rent-1", "rented")
        synthesize_recording(SegmentIndex(system.db), system.runtime.settings.recordings_dir, "tun-1", T0, 60,
                             (Movement(20, 26, LANE),), segment_seconds=20)
        investigator = system.token("investigator")
        body = {"start": at(0).isoformat(), "end": at(60).isoformat(),
                "region": {"x": LANE[0], "y": LANE[1], "w": LANE[2], "h": LANE[3]}}
        accepted = await system.client.post("/api/cameras/tun-1/motion-search", json=body, headers=investigator)
        assert accepted.status_code == 202, accepted.text
        url = f"/api/motion-searches/{accepted.json()['id']}"
        deadline = time.monotonic() + 60
        while (result := (await system.client.get(url, headers=investigator)).json())["state"] not in ("done", "failed"):
            assert time.monotonic() < deadline, result
            await asyncio.sleep(0.05)
        assert result["state"] == "done" and result["progress"] == 1.0, result
        assert [(round((datetime.fromisoformat(m["start"]) - at(0)).total_seconds()),
                 round((datetime.fromisoformat(m["end"]) - at(0)).total_seconds())) for m in result["moments"]] == [(19, 26)]
        # Someone else's search does not exist for them; a camera outside your groups neither.
        system.add_user("investigator2", "investigator")
        assert (await system.client.get(url, headers=system.token("investigator2"))).status_code == 404
        assert (await system.client.post("/api/cameras/rent-1/motion-search", json=body,
                                         headers=investigator)).status_code == 404
        bad = {**body, "region": {"x": 0.9, "y": 0, "w": 0.5, "h": 0.5}}
        assert (await system.client.post("/api/cameras/tun-1/motion-search", json=bad,
                                         headers=investigator)).status_code == 400
        with system.db.session() as session:
            assert session.scalar(select(AuditEntry.action).where(AuditEntry.action == "search.motion")) == "search.motion"
        assert timedelta(0) < datetime.fromisoformat(result["finished_at"]) - datetime.fromisoformat(result["created_at"])
