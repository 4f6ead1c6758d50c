"""Motion search over recordings: a scripted movement in a region is found, nothing elsewhere;
through the API with progress, access rules and audit; results outlive a restart (the newest kept)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from streams.search.keyframes import KeyframeMotion
from streams.simulator.recording import Movement, synthesize_recording
from tests.support.api import api_system, make_settings
from tests.support.dashboard import wait_until
from vms.db import Database
from vms.db.auth import AuditEntry
from vms.recordings.index import SegmentIndex
from vms.recordings.locate import SegmentFiles
from vms.db.types import utcnow
from vms.recordings import motion_search
from vms.recordings.motion_search import MotionSearch, MotionSearches, Region, SearchNotFound, fail_interrupted

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
        # The API restarts (its searches' memory is new): the result is still there, the same.
        system.runtime.searches = MotionSearches(system.db, system.runtime.files, KeyframeMotion)
        assert (await system.client.get(url, headers=investigator)).json() == result
        assert (await system.client.get(url, headers=system.token("investigator2"))).status_code == 404
        assert timedelta(0) < datetime.fromisoformat(result["finished_at"]) - datetime.fromisoformat(result["created_at"])


def _seconds(search: MotionSearch) -> list[tuple[int, int]]:
    return [(round((m.start - at(0)).total_seconds()), round((m.end - at(0)).total_seconds())) for m in search.moments]


async def test_searches_outlive_a_restart_an_interrupted_one_says_so_and_the_newest_are_kept(tmp_path, monkeypatch):
    settings = make_settings(tmp_path)
    db = Database(settings.effective_database_url)
    db.create_schema()
    synthesize_recording(SegmentIndex(db), settings.recordings_dir, "tun-1", T0, 60, (Movement(20, 26, LANE),),
                         segment_seconds=20)
    files = SegmentFiles.of(settings)
    searches = MotionSearches(db, files, KeyframeMotion)
    first = searches.submit("tun-1", Region(*LANE), at(0), at(60), 0.02, "me")
    done = await wait_until(lambda: searches.get(first.id).state in ("done", "failed") and searches.get(first.id),
                            60, "the search")
    assert done.state == "done" and _seconds(done) == [(19, 26)], done

    # Another process over the same database (an API restarted): the same result.
    restarted = MotionSearches(db, files, KeyframeMotion)
    again = restarted.get(first.id)
    assert (again.state, again.progress, again.keyframes, again.requested_by, again.region, again.finished_at) \
        == ("done", 1.0, done.keyframes, "me", Region(*LANE), done.finished_at)
    assert _seconds(again) == [(19, 26)] and again.moments[0].peak == pytest.approx(done.moments[0].peak)

    # A search that was running when the process stopped is said to be interrupted at the next start.
    stopped = MotionSearch("f" * 32, "tun-1", Region(*SKY), at(0), at(60), 0.02, "me", state="running", progress=0.4,
                           created_at=utcnow() - timedelta(seconds=5))
    with db.session() as session:
        session.add(stopped.row())
    fail_interrupted(db)
    interrupted = restarted.get(stopped.id)
    assert interrupted.state == "failed" and interrupted.error.startswith("interrupted") and interrupted.progress == 0.4
    assert restarted.get(first.id).state == "done"  # a finished one is left alone

    # Only the newest KEEP are kept.
    monkeypatch.setattr(motion_search, "KEEP", 2)
    newer = [restarted.submit("tun-1", Region(*SKY), at(0), at(60), 0.02, "me") for _ in range(2)]
    await wait_until(lambda: all(restarted.get(s.id).state == "done" for s in newer), 60, "the newer searches")
    for old in (first.id, stopped.id):
        with pytest.raises(SearchNotFound):
            restarted.get(old)
    searches.shutdown()
    restarted.shutdown()
