"""A camera edit restarts only the pipelines whose source changed: a rename keeps recording."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from streams.simulator import CameraSimulator, SimulatedCamera, simulator_available
from tests.support.cluster import wait_for
from streams.worker import RELOAD_SECONDS
from tests.support.system import camera_entry, make_settings, running_worker
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
