"""The shipped demo raises an alarm out of the box (a camera cut from its terminal) and its
worker metrics port follows ``vms demo --metrics-port``."""

from __future__ import annotations

import os
from pathlib import Path

from typer.testing import CliRunner

from vms.alarms.rules import AlarmRules
from vms.config import load_settings
from vmsapp.cli import app as cli

DEMO = Path(__file__).resolve().parents[1] / "config" / "demo.yaml"


def test_a_camera_cut_in_the_demo_raises_an_alarm_within_seconds(db):
    demo = load_settings(DEMO)
    rules = AlarmRules(db)
    rules.sync_from_config(demo.alarms.rules)
    for camera in demo.cameras:  # whichever camera is cut: "stop <id>" in the demo's terminal
        rule = rules.match("camera_offline", camera.group)
        assert rule is not None and rule.instruction, camera.id
    assert demo.detection.offline_after_seconds <= 10  # seen offline while the person still looks


def test_demo_metrics_port_follows_the_flag(tmp_path, monkeypatch):
    monkeypatch.delenv("VMS_METRICS__PORT", raising=False)
    bad = tmp_path / "bad.yaml"
    bad.write_text("cameras: 3\n")  # stops the demo right after the flag is applied, before anything starts
    result = CliRunner().invoke(cli, ["demo", "--config", str(bad), "--metrics-port", "9300"])
    assert result.exit_code == 2, result.output

    assert os.environ["VMS_METRICS__PORT"] == "9300"
    assert load_settings(DEMO).metrics.port == 9300  # what the supervisor's workers will read
    monkeypatch.delenv("VMS_METRICS__PORT")
    assert load_settings(DEMO).metrics.port == 9108
