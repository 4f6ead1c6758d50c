"""Warm standby (cluster.standby_seconds): ``kill -9`` of a camera's holder leaves no hole in its
recording, because the survivor, which pulled the camera all along, records from its pre-roll ring
starting before the kill. Without standby the same kill leaves a hole (the test shows it)."""

from __future__ import annotations

import os
import signal
import time
from datetime import datetime, timezone

import av
import pytest
import redis
from sqlalchemy import select

from streams.simulator import CameraSimulator, SimulatedCamera
from tests.support.cluster import (
    PROCESS_START_SECONDS,
    REDIS_URL,
    postgres_admin_url,
    scale_out_marks,
    start_worker,
    stop_processes,
    throwaway_database,
    unique,
    wait_for,
    write_config,
)
from tests.support.recordings import worst_gap
from tests.support.system import FAST_INGEST
from vms.bus.redis import RedisBus
from vms.bus.rpc import RpcClient, worker_service
from vms.cluster.leases import LeaseStore
from vms.db import Database, Segment
from vms.recordings.locate import SegmentFiles
from vms.recordings.playback import plan_range, write_mp4

PG = postgres_admin_url()
pytestmark = [
    *scale_out_marks(PG),
    pytest.mark.slow,
    pytest.mark.timeout(420),
]

CAMERAS = ["cam-a", "cam-b"]
STANDBY = 12.0
FPS = 25


def segments(db: Database, camera_id: str) -> list[Segment]:
    """The camera's rows, oldest first (none before the first worker created the schema)."""
    from sqlalchemy.exc import ProgrammingError

    try:
        with db.session() as session:
            return list(session.scalars(select(Segment).where(Segment.camera_id == camera_id).order_by(Segment.start)))
    except ProgrammingError:
        return []


@pytest.mark.parametrize("standby", [STANDBY, 0.0], ids=["standby", "cold"])
def test_kill_9_of_the_holder_leaves_no_hole_with_a_warm_standby(tmp_path, standby):
    mount = SimulatedCamera(id="m0", width=320, height=180, fps=FPS, gop=FPS, bitrate_kbps=300)
    prefix = f"vms:{unique('standby-')}:"
    client = redis.Redis.from_url(REDIS_URL)
    store = LeaseStore(client, prefix)
    processes: dict[str, object] = {}
    first, second = unique("first-"), unique("second-")
    with CameraSimulator([mount]).start() as sim, throwaway_database(PG) as database_url:
        cameras = [{"id": c, "name": c, "group": "rented", "main_url": sim.url("m0"), "recording": {"segment_seconds": 4}}
                   for c in CAMERAS]
        config = write_config(
            tmp_path / "vms.yaml", data_dir=str(tmp_path / "data"), database_url=database_url, redis_url=REDIS_URL,
            cluster={"key_prefix": prefix, "lease_seconds": 6, "handover_seconds": 2, "standby_seconds": standby},
            storage={"min_free": 0}, ingest=FAST_INGEST, cameras=cameras,
        )
        db = Database(database_url)
        bus = RedisBus(REDIS_URL, prefix)
        rpc = RpcClient(bus)

        def describe(name: str) -> dict:
            try:
                return rpc.call(worker_service(name), "describe", timeout=5)
            except Exception:
                return {}

        try:
            # The first worker records both cameras, then hands one to the second: the camera the
            # second worker will die holding was recorded by the survivor before (its pre-roll
            # must start after its own last row).
            processes[first] = start_worker(config, first, tmp_path / "first.log")
            wait_for(lambda: all(any(s.end for s in segments(db, c)) for c in CAMERAS), PROCESS_START_SECONDS,
                     "the first worker did not record both cameras")
            processes[second] = start_worker(config, second, tmp_path / "second.log")

            def spread():
                owners = {c: (h[1] if h else None) for c, h in store.holders(CAMERAS).items()}
                return owners if set(owners.values()) == {first, second} else None

            owners = wait_for(spread, PROCESS_START_SECONDS, "the cameras were not spread 1/1")
            camera = next(c for c, w in owners.items() if w == second)
            wait_for(lambda: any(s.worker_id == second and s.end for s in segments(db, camera)), 60,
                     "the second worker does not record its camera")
            if standby:
                # The survivor pulls the camera unrecorded, its ring full (at least a lease's worth).
                def ready():
                    state = describe(first)
                    ring = state.get("standby", {}).get(camera)
                    return state if ring and ring["seconds"] >= 8 and camera not in state["cameras"] else None

                state = wait_for(ready, 60, "the first worker does not stand by for the camera")
                assert state["rtsp_sessions"] == 2, state  # one recorded camera, one standby: two pulls
                other = next(c for c in CAMERAS if c != camera)
                assert set(describe(second)["standby"]) == {other}, "each worker stands by for the other's camera"
            else:
                wait_for(lambda: camera not in describe(first).get("cameras", [camera]), 30, "no hand-over")
                assert describe(first)["standby"] == {}

            os.kill(processes[second].pid, signal.SIGKILL)
            processes[second].wait(10)
            killed = time.time()

            def resumed():
                after = [s for s in segments(db, camera) if s.worker_id == first and s.end
                         and s.end.timestamp() > killed + 2]
                return after or None

            wait_for(resumed, 40, "the survivor did not record the camera again")
            # A live worker closes the segment the killed one left open (repair of dead workers' segments).
            wait_for(lambda: all(s.end is not None for s in segments(db, camera) if s.worker_id == second), 90,
                     "the killed worker's open segment was not repaired")
            wait_for(lambda: any(s.worker_id == first and s.end and s.end.timestamp() > killed + 8
                                 for s in segments(db, camera)), 40, "the survivor stopped recording")
        finally:
            stop_processes(processes.values())
            rpc.close()
            bus.close()
        rows = segments(db, camera)
        read_at = time.time()
        db.dispose()
    client.close()

    victim = [s for s in rows if s.worker_id == second]
    survivor = [s for s in rows if s.worker_id == first]
    # The survivor's recording since the takeover: its last run of rows (its hand-over rows before
    # the second worker took the camera are an earlier run).
    taken = survivor[-1:]
    for a, b in zip(reversed(survivor[:-1]), reversed(survivor)):
        if (b.start - a.end).total_seconds() > 0.1:
            break
        taken.insert(0, a)
    print(f"standby {standby:g} s: the killed worker's recording ends {victim[-1].end.timestamp() - killed:+.2f} s "
          f"from the kill; the survivor's starts {taken[0].start.timestamp() - killed:+.2f} s from it")
    for row in rows:
        print(f"  {row.worker_id[:6]} {row.start.timestamp() - killed:+7.2f} {row.end.timestamp() - killed:+7.2f} {row.path}")
    for mine in (victim, survivor):
        for a, b in zip(mine, mine[1:]):
            assert (a.end - b.start).total_seconds() <= 0.01, ("one worker's rows overlap", a.path, b.path)
    assert all(s.end.timestamp() <= read_at + 0.5 for s in rows), "a row runs into the future"
    gap = worst_gap(rows, killed - 5, killed + 8)
    if standby:
        assert taken[0].start.timestamp() < killed, "the survivor's recording starts after the kill"
        assert gap <= 0.1, f"a {gap:.2f} s hole around the kill"
    else:
        # The old behaviour: the killed worker's last GOP and the survivor's connect are lost.
        assert taken[0].start.timestamp() > killed and gap > 0.5, gap


def test_playback_across_a_standby_takeover_shows_each_moment_once(tmp_path):
    """Overlapping rows of two workers (the killed one's last segment, the survivor's pre-roll)
    play once: frames at the camera's rate across the overlap."""
    db, files, base = _two_workers_store(tmp_path)
    # The dead worker recorded [0, 20) s; the survivor's pre-roll starts at 12 s and goes on to 40 s.
    _record_as(db, "dead", files.folder("dead"), base, 20)
    _record_as(db, "alive", files.folder("alive"), base + 12, 28)
    plan = plan_range(db, files, "cam", datetime.fromtimestamp(base + 5, timezone.utc),
                      datetime.fromtimestamp(base + 35, timezone.utc))
    result = write_mp4(plan, files, tmp_path / "across.mp4")
    seconds = (result.last_frame - result.first_frame).total_seconds()
    assert {s["worker_id"] for s in result.segments} == {"dead", "alive"}
    assert abs(result.frames - FPS * seconds) <= FPS, (result.frames, seconds)
    db.dispose()


def test_playback_follows_one_workers_copy_while_it_continues(tmp_path):
    """Two workers recorded the same 20 s (a hand-over or a standby takeover left both running):
    playback keeps to one copy as long as it continues, so no picture is lost to a switch. The
    second copy's rows start 2 s later and are placed 50 ms earlier (each worker places by its
    own clock), so its keyframes lie just before the first copy's last pictures: taking rows by
    start alone switched copies at every row and lost about a GOP at each switch to it."""
    db, files, base = _two_workers_store(tmp_path)
    _record_as(db, "first", files.folder("first"), base, 20)
    _record_as(db, "second", files.folder("second"), base + 1.95, 20)
    start, end = base + 1, base + 19
    plan = plan_range(db, files, "cam", datetime.fromtimestamp(start, timezone.utc), datetime.fromtimestamp(end, timezone.utc))
    result = write_mp4(plan, files, tmp_path / "one-copy.mp4")
    assert {s["worker_id"] for s in result.segments} == {"first"}, result.segments
    assert not result.gaps, result.gaps
    assert result.frames >= FPS * (end - start) - 1, result.frames
    db.dispose()


def test_a_switch_between_copies_is_made_at_a_keyframe_inside_the_overlap(tmp_path):
    """A hand-over: the old holder stopped mid-GOP (10.7 s), the new one had been recording since
    3.05 s with keyframes at every whole second after that. Playback leaves the old copy at the new
    copy's keyframe inside the overlap (10.05 s); joining the new copy at its first keyframe after
    the old copy's end (11.05 s) lost 0.35-0.84 s at each hand-over (a new user's trial)."""
    db, files, base = _two_workers_store(tmp_path)
    _record_as(db, "old", files.folder("old"), base, 10.7)
    _record_as(db, "new", files.folder("new"), base + 3.05, 20)
    start, end = base + 1, base + 19
    plan = plan_range(db, files, "cam", datetime.fromtimestamp(start, timezone.utc), datetime.fromtimestamp(end, timezone.utc))
    result = write_mp4(plan, files, tmp_path / "switch.mp4")
    assert [s["worker_id"] for s in result.segments][:3] == ["old", "old", "old"], result.segments
    assert {s["worker_id"] for s in result.segments} == {"old", "new"}
    assert result.frames >= FPS * (end - start) - 1, result.frames  # before: 9 pictures fewer
    with av.open(str(tmp_path / "switch.mp4")) as container:
        stream = container.streams.video[0]
        shown = sorted(float(p.pts * stream.time_base) for p in container.demux(stream) if p.pts is not None)
    assert max(b - a for a, b in zip(shown, shown[1:])) < 1.5 / FPS
    db.dispose()


def test_a_picture_both_copies_hold_is_shown_once_at_the_switch(tmp_path):
    """Both workers recorded the same pictures during the overlap; each placed them by its own
    clock, here 33 µs apart. The old copy's picture just before the new copy's keyframe is that
    keyframe: played twice, an investigator stepping frames sees the same picture twice (a trial)."""
    db, files, base = _two_workers_store(tmp_path)
    _record_as(db, "old", files.folder("old"), base, 10.7)
    _record_as(db, "new", files.folder("new"), base + 3 + 0.000033, 20)
    start, end = base + 1, base + 19
    plan = plan_range(db, files, "cam", datetime.fromtimestamp(start, timezone.utc), datetime.fromtimestamp(end, timezone.utc))
    write_mp4(plan, files, tmp_path / "switch.mp4")
    with av.open(str(tmp_path / "switch.mp4")) as container:
        stream = container.streams.video[0]
        shown = sorted(float(p.pts * stream.time_base) for p in container.demux(stream) if p.pts is not None)
    spacing = [b - a for a, b in zip(shown, shown[1:])]
    assert min(spacing) > 0.5 / FPS, [round(a, 6) for a, b in zip(shown, shown[1:]) if b - a <= 0.5 / FPS]
    assert max(spacing) < 1.5 / FPS
    db.dispose()


def _two_workers_store(tmp_path) -> tuple[Database, SegmentFiles, float]:
    """An SQLite index, per-worker recording folders, and a start a minute ago (UTC epoch s)."""
    db = Database(f"sqlite:///{tmp_path / 'vms.db'}")
    db.create_schema()
    return db, SegmentFiles(tmp_path / "recordings", per_worker=True), time.time() - 60


def _record_as(db: Database, worker_id: str, folder, start_wall: float, seconds: float) -> None:
    from streams.fanout import PacketFanout
    from streams.packets import StreamEnd
    from streams.recorder import Recorder
    from tests.support.media import media_packets
    from vms.recordings.index import SegmentIndex

    fanout = PacketFanout("cam", "main")
    queue = fanout.subscribe("recorder", max_packets=100_000)
    recorder = Recorder("cam", queue, SegmentIndex(db, worker_id), folder, 4).start()
    info, packets = media_packets("cam", frames=int(FPS * seconds), fps=FPS, gop=FPS, start_wall=start_wall)
    for item in (info, *packets, StreamEnd("cam", "main", 1, "test")):
        fanout.publish(item)
    wait_for(lambda: not len(queue), 30, "the recorder did not take every packet")
    recorder.stop()
