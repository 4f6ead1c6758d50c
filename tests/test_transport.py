"""Cameras that refuse RTSP over TCP (461 Unsupported transport): the per-camera transport setting."""

from __future__ import annotations

import pytest

from streams.ingest import StreamSource
from streams.probe import probe
from streams.simulator import CameraSimulator, SimulatedCamera, simulator_available, simulator_unavailable_reason
from streams.transport import TransportChoice
from tests.support.system import camera_entry, make_settings, running_worker
from vms.config import CameraConfig

pytestmark = pytest.mark.skipif(not simulator_available(), reason=simulator_unavailable_reason() or "")

SMALL = dict(width=160, height=96, fps=25, gop=25, bitrate_kbps=100)


def test_transport_setting_is_typed():
    base = {"id": "c", "name": "C", "group": "tunnel", "main_url": "rtsp://h/s"}
    assert CameraConfig(**base).transport == "auto"
    assert CameraConfig(**base, transport="udp").transport == "udp"
    with pytest.raises(ValueError):
        CameraConfig(**base, transport="http")
    with pytest.raises(ValueError):
        TransportChoice("sctp")


def test_udp_only_camera_errors_on_tcp_and_records_on_auto_and_udp(tmp_path):
    # Separate mounts for each client: a shared GStreamer media answers 5xx for a moment after
    # a refused SETUP, which would only slow the test down.
    cameras = [SimulatedCamera(id=f"udp-{mode}", scene="road", protocols="udp", shared=False, **SMALL)
               for mode in ("tcp", "auto", "udp")]
    with CameraSimulator(cameras).start() as sim:
        entries = [camera_entry(sim, c.id, segment_seconds=2, transport=c.id.split("-")[1]) for c in cameras]
        settings = make_settings(tmp_path, entries)
        with running_worker(settings) as (worker, statuses):
            error = statuses.wait_state("udp-tcp", "error", timeout=30)
            assert "refuses RTSP over TCP" in error["error"] and "Errno" not in error["error"]
            for camera_id in ("udp-auto", "udp-udp"):
                statuses.wait_state(camera_id, "online", timeout=30)
                statuses.wait_for(lambda m, c=camera_id: m["camera_id"] == c and m.get("packets", 0) >= 50, timeout=30)
            assert "udp-tcp" not in [m["camera_id"] for m in statuses.messages if m["state"] == "online"]
        # the probe finds the same, and says what it did
        refused = probe(StreamSource("p", "main", sim.url("udp-tcp"), transport="tcp"), seconds=1)
        assert not refused.ok and "refuses RTSP over TCP" in refused.error
        fallen_back = probe(StreamSource("p", "main", sim.url("udp-auto")), seconds=1)
        assert fallen_back.ok and fallen_back.transport == "udp"
        assert any("refuses RTSP over TCP" in w for w in fallen_back.warnings)


def test_cli_probe_takes_the_transport(tmp_path):
    import json

    from typer.testing import CliRunner

    from vmsapp.cli import app as cli

    camera = SimulatedCamera(id="udp-cli", scene="road", protocols="udp", shared=False, **SMALL)
    with CameraSimulator([camera]).start() as sim:
        runner = CliRunner()
        refused = runner.invoke(cli, ["camera", "probe", sim.url("udp-cli"), "--seconds", "1", "--transport", "tcp"])
        assert refused.exit_code == 1 and "refuses RTSP over TCP" in json.loads(refused.stdout)["error"]
        probed = runner.invoke(cli, ["camera", "probe", sim.url("udp-cli"), "--seconds", "1", "--transport", "udp"])
        assert probed.exit_code == 0 and json.loads(probed.stdout)["transport"] == "udp"
        bad = runner.invoke(cli, ["camera", "probe", sim.url("udp-cli"), "--transport", "http"])
        assert bad.exit_code == 2
