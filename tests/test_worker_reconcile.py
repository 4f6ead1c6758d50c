"""How a worker runs its pipelines: a rename keeps recording, statuses are published again,
cameras open a few at a time."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import update

from streams.simulator import CameraSimulator, SimulatedCamera, simulator_available
from tests.support.cluster import wait_for
from vmsapp.worker import RELOAD_SECONDS, StreamWorker
from tests.support.system import FAST_INGEST, camera_entry, make_settings, running_worker
from vms.db import CameraRow

pytestmark = [
    pytest.mark.skipif(not simulator_available(), reason="GStreamer RTSP server (Debian packages) missing"),
    pytest.mark.timeout(120),
]

SMALL = dict(width=320, height=180, fps=25, gop=25, bitrate_kbps=250)


def test_rename_keeps_the_pipeline_and_a_new_url_restarts_it(tmp_path):
    cameras = [SimulatedCamera(id=c, **SMALL) for c in ("cam-1", "cam-2")]
    with CameraSimulator(cameras).start() as sim:
        settings = make_settings(tmp_path, [camera_entry(sim, "cam-1", segment_seconds=2)])
        with running_worker(settings) as (worker, statuses):
            statuses.wait_state("cam-1", "online", timeout=30)
            before = worker.pipeline("cam-1")

            def edit(**values) -> None:
                with worker.db.session() as session:
                    session.execute(update(CameraRow).where(CameraRow.id == "cam-1").values(**values))
                worker.reload_cameras()

            edit(name="Thủ Thiêm tunnel, north portal", group_id="gateway")
            kept = worker.pipeline("cam-1")
            assert kept is before, "a rename restarted the camera's pipeline"
            assert kept.spec.name == "Thủ Thiêm tunnel, north portal" and kept.spec.group == "gateway"
            assert statuses.states("cam-1")[-1] == "online"

            edit(main_url=sim.url("cam-2"))
            restarted = worker.pipeline("cam-1")
            assert restarted is not before and restarted.spec.main_url == sim.url("cam-2")
            wait_for(lambda: any(s.end for s in worker.index.of_camera("cam-1")), 30, "no recording after the restart")


def test_stream_statuses_are_published_again_so_a_lost_change_is_repaired(tmp_path):
    with CameraSimulator([SimulatedCamera(id="cam-1", **SMALL)]).start() as sim:
        settings = make_settings(tmp_path, [camera_entry(sim, "cam-1", segment_seconds=2)])
        with running_worker(settings) as (worker, statuses):
            statuses.wait_state("cam-1", "online", timeout=30)
            # As if the bus had lost every message so far (a Redis outage): the state comes again.
            seen = len(statuses.messages)
            again = wait_for(lambda: next((m for m in statuses.messages[seen:] if m["camera_id"] == "cam-1"), None),
                             RELOAD_SECONDS + 15, "the stream's status was not published again")
            assert again["state"] == "online" and again["worker_id"] == worker.worker_id


class CountingGate:
    """The worker's open gate, counting how many RTSP opens ran at once."""

    def __init__(self, size: int) -> None:
        self._semaphore = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self.now = self.most = self.opens = 0

    def __enter__(self):
        self._semaphore.acquire()
        with self._lock:
            self.now += 1
            self.opens += 1
            self.most = max(self.most, self.now)
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            self.now -= 1
        self._semaphore.release()


def test_cameras_open_a_few_at_a_time_and_none_is_falsely_offline(tmp_path):
    ids = [f"cam-{i}" for i in range(8)]
    with CameraSimulator([SimulatedCamera(id="m0", **SMALL)]).start() as sim:
        entries = [{"id": c, "name": c, "group": "tunnel", "main_url": sim.url("m0"), "recording": {"segment_seconds": 2}}
                   for c in ids]
        settings = make_settings(tmp_path, entries, ingest={**FAST_INGEST, "concurrent_opens": 2})
        gate = CountingGate(2)

        def count_opens(worker: StreamWorker) -> None:
            assert worker._open_gate._value == 2  # the configured size
            worker._open_gate = gate

        with running_worker(settings, before_start=count_opens) as (_, statuses):
            for camera_id in ids:
                statuses.wait_state(camera_id, "online", timeout=60)
    assert gate.opens >= len(ids) and gate.most <= 2
    assert not [m for m in statuses.messages if m["state"] in ("offline", "error")], "a camera was falsely offline"
