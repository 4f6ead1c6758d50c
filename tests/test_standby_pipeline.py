"""A warm-standby pipeline against a real RTSP camera: it pulls with no output attached, keeps a
pre-roll ring, and on ``promote`` the recorder starts from the ring on the same RTSP session;
``demote`` stops the recorder and keeps the session."""

from __future__ import annotations

import time

import pytest

from streams.pipeline import CameraPipeline
from streams.recording import Recording
from streams.simulator import CameraSimulator, SimulatedCamera, simulator_available
from tests.support.cluster import wait_for
from tests.support.system import FAST_INGEST
from vms.cameras.spec import CameraSpec
from vms.config.storage import IngestConfig
from vms.db import Database
from vms.recordings.index import SegmentIndex

pytestmark = [
    pytest.mark.skipif(not simulator_available(), reason="GStreamer RTSP server (Debian packages) missing"),
    pytest.mark.timeout(180),
]

PREROLL = 4.0


def test_standby_pipeline_records_from_its_preroll_on_the_same_session_when_promoted(tmp_path):
    mount = SimulatedCamera(id="m0", width=320, height=180, fps=25, gop=25, bitrate_kbps=300)
    db = Database(f"sqlite:///{tmp_path / 'vms.db'}")
    db.create_schema()
    index = SegmentIndex(db)
    recording = Recording(index, tmp_path / "recordings", 500)
    with CameraSimulator([mount]).start() as sim:
        spec = CameraSpec("cam", "cam", "rented", sim.url("m0"), None, None, None, True, 2.0, "main")
        pipeline = CameraPipeline(spec, IngestConfig(**FAST_INGEST), on_status=lambda status: None,
                                  outputs=[recording], preroll=(PREROLL, 10_000_000))
        pipeline.start(standby=True)
        try:
            assert pipeline.standby and recording.recorder("cam") is None, "a standby attaches no output"
            wait_for(lambda: pipeline.preroll()[0] >= PREROLL, 60, "the pre-roll ring did not fill")
            seconds, packets, size = pipeline.preroll()
            assert PREROLL <= seconds <= PREROLL + 1.5 and packets >= 25 * PREROLL and size > 0
            (status,) = pipeline.statuses()
            session = status.session
            assert index.of_camera("cam") == [], "nothing is recorded while standing by"

            promoted = time.time()
            pipeline.promote()
            assert not pipeline.standby and recording.recorder("cam") is not None
            assert pipeline.preroll() == (0.0, 0, 0), "the ring is let go once the recorder has it"
            wait_for(lambda: any(s.end for s in index.of_camera("cam")), 30, "the promoted pipeline does not record")
            first = index.of_camera("cam")[0]
            print(f"first segment starts {first.start.timestamp() - promoted:+.2f} s from the promotion")
            assert first.start.timestamp() <= promoted - PREROLL + 0.1, "the recording does not start from the ring"

            pipeline.demote()
            demoted = time.time()
            assert pipeline.standby and recording.recorder("cam") is None
            rows = index.of_camera("cam")
            assert all(s.end is not None for s in rows), "the recorder finished its segment"
            wait_for(lambda: pipeline.preroll()[0] >= 1.0, 30, "the demoted pipeline keeps no ring")
            pipeline.promote()  # again: the recording resumes after its own last row, never over it
            wait_for(lambda: len([s for s in index.of_camera("cam") if s.end]) > len(rows), 30, "no recording again")
            again = [s for s in index.of_camera("cam") if s.start > rows[-1].start]
            assert again[0].start >= rows[-1].end, "a worker's rows overlap"
            assert again[0].start.timestamp() < demoted + 3, "the ring started at the demotion"
            (status,) = pipeline.statuses()
            assert status.session == session, "standby, promotion and demotion kept one RTSP session"
        finally:
            pipeline.stop()
    db.dispose()
