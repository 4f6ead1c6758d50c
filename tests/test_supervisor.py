"""``vms run`` is a supervisor with a worker and an API process: killing the API (kill -9) costs
no recording and the API comes back; a killed worker comes back and records again."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

import vms.db.auth  # noqa: F401  (registers the users and sessions tables)
from streams.simulator import CameraSimulator, SimulatedCamera, simulator_available
from tests.support.cluster import PROCESS_START_SECONDS, stop_process, wait_for
from tests.support.recordings import closed_segments, worst_gap
from tests.support.supervised import start_run
from vms.db import Segment

pytestmark = [
    pytest.mark.skipif(not simulator_available(), reason="GStreamer RTSP server (Debian packages) missing"),
    pytest.mark.timeout(240),
]


def children(pid: int) -> dict[str, int]:
    """``{"worker": pid, "api": pid}`` of the supervisor's live children."""
    found = {}
    try:
        pids = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return found
    for child in pids:
        try:
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        for role in ("worker", "api"):
            if role.encode() in argv:
                found[role] = child
    return found


def answers(url: str, headers: dict) -> dict | None:
    try:
        response = httpx.get(f"{url}/healthz", headers=headers, timeout=2)
        return response.json() if response.status_code == 200 else None
    except httpx.HTTPError:
        return None


def test_killing_the_api_costs_no_recording_and_both_processes_come_back(tmp_path):
    mount = SimulatedCamera(id="cam-1", width=320, height=180, fps=25, gop=25, bitrate_kbps=250)
    with CameraSimulator([mount]).start() as sim:
        run = start_run(tmp_path, sim.url("cam-1"))
        url, auth, db, log, supervisor = run.url, run.auth, run.db, run.log, run.process
        try:
            # The API hears the worker's stream status over the local bus.
            wait_for(lambda: (answers(url, auth) or {}).get("online") == 1, 60, f"no online camera; {log.read_text()[-2000:]}")
            wait_for(lambda: len(closed_segments(db)) >= 2, 30, "nothing recorded")
            first = children(supervisor.pid)
            assert set(first) == {"worker", "api"} and first["worker"] != first["api"]
            # Live video crosses the bus too: a snapshot from the worker's hub.
            snapshot = httpx.get(f"{url}/api/cameras/cam-1/snapshot.jpg", headers=auth, timeout=20)
            assert snapshot.status_code == 200 and snapshot.content[:2] == b"\xff\xd8", snapshot.text[:300]

            os.kill(first["api"], signal.SIGKILL)
            killed = time.time()
            back = wait_for(lambda: children(supervisor.pid).get("api") not in (None, first["api"]) and answers(url, auth),
                            60, "the API was not restarted")
            api_back_after = time.time() - killed
            assert back["online"] == 1 or wait_for(lambda: (answers(url, auth) or {}).get("online") == 1, 30, "status")
            wait_for(lambda: closed_segments(db)[-1].end.timestamp() > killed + api_back_after + 1, 30, "recording stopped")
            gap = worst_gap(closed_segments(db), killed - 1, killed + api_back_after)
            assert children(supervisor.pid)["worker"] == first["worker"], "the worker was restarted with the API"

            os.kill(first["worker"], signal.SIGKILL)
            worker_killed = time.time()
            wait_for(lambda: children(supervisor.pid).get("worker") not in (None, first["worker"]), 30, "no new worker")
            try:
                wait_for(lambda: any(s.start.timestamp() > worker_killed for s in closed_segments(db)), PROCESS_START_SECONDS,
                         "the restarted worker does not record")
            except TimeoutError as exc:
                raise AssertionError(f"{exc}; vms run said:\n{log.read_text()[-3000:]}") from None
            resumed_after = min(s.start.timestamp() for s in closed_segments(db) if s.start.timestamp() > worker_killed) - worker_killed
        finally:
            stop_process(supervisor)
        assert supervisor.returncode == 0, log.read_text()[-2000:]
        assert not children(supervisor.pid)
        with db.session() as session:
            open_rows = session.scalars(select(Segment).where(Segment.end.is_(None))).all()
        db.dispose()
    print(f"API back {api_back_after:.1f} s after kill -9, recording gap meanwhile {gap:.2f} s; "
          f"worker recording again {resumed_after:.1f} s after kill -9")
    assert gap < 1.0, f"killing the API cost {gap:.2f} s of recording"
    assert not open_rows, "segments left open after a clean stop"
