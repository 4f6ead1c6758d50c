"""Who records and who stands by for each camera, seen without the RPC bus by hand: each worker's
``/metrics`` gauges (``vms_worker_cameras{role}``, ``vms_worker_rtsp_sessions``, ...) and
``vms workers`` (every live worker's describe, asked over the bus)."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from streams.simulator import CameraSimulator, SimulatedCamera, simulator_available
from tests.support.cluster import REDIS_URL, redis_available, unique, wait_for, write_config
from tests.support.system import FAST_INGEST
from vms.bus.redis import RedisBus
from vms.cameras.registry import CameraRegistry
from vms.config import Settings
from vms.db import Database
from vms.metrics import WorkerCollector, exposition, runtime_registry
from vmsapp.cli import app
from vmsapp.worker import StreamWorker

pytestmark = [
    pytest.mark.skipif(not simulator_available(), reason="GStreamer RTSP server (Debian packages) missing"),
    pytest.mark.skipif(redis_available() is not None, reason=str(redis_available())),
    pytest.mark.timeout(180),
]

CAMERAS = ("cam-a", "cam-b")


def _gauges(text: str, name: str) -> dict[str, float]:
    """``{labels: value}`` of one metric in the exposition text."""
    return {m.group(1) or "": float(m.group(2)) for m in re.finditer(rf"^{name}(\{{[^}}]*\}})? (\S+)$", text, re.M)}


def test_metrics_and_vms_workers_show_who_records_and_who_stands_by(tmp_path, caplog):
    caplog.set_level("INFO", logger="vms.cluster.ownership")
    mount = SimulatedCamera(id="m0", width=320, height=180, fps=25, gop=25, bitrate_kbps=300)
    prefix = f"vms:{unique('view-')}:"
    database_url = f"sqlite:///{tmp_path / 'shared.db'}"
    workers: list[StreamWorker] = []
    with CameraSimulator([mount]).start() as sim:
        cameras = [{"id": c, "name": c, "group": "rented", "main_url": sim.url("m0"), "recording": {"segment_seconds": 2}}
                   for c in CAMERAS]
        values = dict(data_dir=str(tmp_path / "data"), database_url=database_url, redis_url=REDIS_URL,
                      cluster={"key_prefix": prefix, "lease_seconds": 3, "standby_seconds": 4},
                      storage={"min_free": 0}, ingest=FAST_INGEST, cameras=cameras)
        try:
            for name in ("w1", "w2"):
                settings = Settings(worker_id=name, **values)
                db = Database(settings.effective_database_url)
                db.create_schema()
                CameraRegistry(db).sync_from_config(settings.groups, settings.cameras)
                workers.append(StreamWorker(settings, db, RedisBus(REDIS_URL, prefix)).start())

            def settled() -> bool:
                held = [set(w.describe()["cameras"]) for w in workers]
                standby = [set(w.describe()["standby"]) for w in workers]
                return (all(len(h) == 1 for h in held) and held[0] | held[1] == set(CAMERAS)
                        and all(s == h2 for s, h2 in zip(standby, reversed(held))))
            wait_for(settled, 60, "the two workers did not settle on one camera each, standing by for the other")
            wait_for(lambda: all(ring["seconds"] > 1 for w in workers for ring in w.describe()["standby"].values()),
                     30, "no pre-roll in the standby rings")

            first = workers[0]
            held, standing = first.describe()["cameras"][0], next(iter(first.describe()["standby"]))
            text = exposition(runtime_registry(WorkerCollector(first.describe))).decode()
            assert _gauges(text, "vms_worker_cameras") == {'{role="held"}': 1.0, '{role="handing_over"}': 0.0,
                                                            '{role="standby"}': 1.0}, text
            assert _gauges(text, "vms_worker_rtsp_sessions") == {"": 2.0}, "one pull recorded, one standby"
            roles = _gauges(text, "vms_worker_camera_role")
            assert roles == {f'{{camera="{held}",role="held"}}': 1.0, f'{{camera="{standing}",role="standby"}}': 1.0}
            assert _gauges(text, "vms_worker_standby_preroll_seconds")[f'{{camera="{standing}"}}'] > 1

            named = [r.getMessage() for r in caplog.records if "stands by for 1 camera:" in r.getMessage()]
            assert any(standing in m for m in named if m.startswith("worker w1 ")), named

            config = write_config(tmp_path / "vms.yaml", **values)
            result = CliRunner().invoke(app, ["workers", "--config", str(config), "--json"])
            assert result.exit_code == 0, result.output
            listed = {w["worker_id"]: w for w in json.loads(result.output)}
            assert sorted(listed) == ["w1", "w2"]
            for worker in workers:
                assert listed[worker.worker_id]["cameras"] == worker.describe()["cameras"]
                assert sorted(listed[worker.worker_id]["standby"]) == sorted(worker.describe()["standby"])
                assert listed[worker.worker_id]["pid"] is not None
            plain = CliRunner().invoke(app, ["workers", "--config", str(config)])
            assert plain.exit_code == 0, plain.output
            assert f"records 1: {held}" in plain.output and f"stands by for 1: {standing} (" in plain.output, plain.output
            assert "2 live workers" in plain.output
        finally:
            for worker in workers:
                worker.stop()
                worker.bus.close()
