"""The vms command's camera registry, with its refusals spelled out."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from vmsapp.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def isolated_data(tmp_path, monkeypatch):
    monkeypatch.setenv("VMS_DATA_DIR", str(tmp_path))


def test_add_list_remove_a_camera_with_credentials_split_off():
    result = runner.invoke(app, ["camera", "add", "gate-01", "--url", "rtsp://admin:pa55@10.1.1.5:554/s1", "--group", "gateway"])
    assert result.exit_code == 0, result.output
    assert "pa55" not in result.output
    listed = runner.invoke(app, ["camera", "list", "--json"])
    (camera,) = json.loads(listed.output)
    assert camera["main_url"] == "rtsp://10.1.1.5:554/s1"
    assert "pa55" not in listed.output and "admin" not in listed.output
    assert runner.invoke(app, ["camera", "remove", "gate-01"]).exit_code == 0
    assert json.loads(runner.invoke(app, ["camera", "list", "--json"]).output) == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd", "must start with rtsp:// or rtsps://"),
        ("concat:/a|/b", "must start with rtsp:// or rtsps://"),
        ("rtsp://cam/x -f null", "spaces"),
    ],
)
def test_add_refuses_non_rtsp_urls(url, message):
    result = runner.invoke(app, ["camera", "add", "bad", "--url", url])
    assert result.exit_code == 2
    assert message in result.output


def test_add_refuses_unknown_group_and_duplicate_ids():
    assert runner.invoke(app, ["camera", "add", "c1", "--url", "rtsp://h/x"]).exit_code == 0
    duplicate = runner.invoke(app, ["camera", "add", "c1", "--url", "rtsp://h/x"])
    assert duplicate.exit_code == 2 and "already exists" in duplicate.output
    unknown = runner.invoke(app, ["camera", "add", "c2", "--url", "rtsp://h/x", "--group", "moon"])
    assert unknown.exit_code == 2 and "group 'moon' does not exist" in unknown.output


def test_probe_refuses_a_file_url():
    result = runner.invoke(app, ["camera", "probe", "file:///etc/passwd"])
    assert result.exit_code == 2 and "refused" in result.output


def test_add_takes_the_rtp_transport_and_refuses_an_unknown_one():
    assert runner.invoke(app, ["camera", "add", "udp-1", "--url", "rtsp://h/x", "--transport", "udp"]).exit_code == 0
    bad = runner.invoke(app, ["camera", "add", "bad-1", "--url", "rtsp://h/x", "--transport", "http"])
    assert bad.exit_code == 2 and "transport" in bad.output
    (camera,) = json.loads(runner.invoke(app, ["camera", "list", "--json"]).output)
    assert camera["id"] == "udp-1" and camera["transport"] == "udp"


def test_add_takes_the_rtsp_client_and_refuses_an_unknown_one():
    assert runner.invoke(app, ["camera", "add", "own-1", "--url", "rtsp://h/x", "--rtsp-client", "builtin"]).exit_code == 0
    assert runner.invoke(app, ["camera", "add", "own-2", "--url", "rtsp://h/y"]).exit_code == 0
    bad = runner.invoke(app, ["camera", "add", "bad-1", "--url", "rtsp://h/z", "--rtsp-client", "vlc"])
    assert bad.exit_code == 2 and "rtsp_client" in bad.output
    cameras = {c["id"]: c for c in json.loads(runner.invoke(app, ["camera", "list", "--json"]).output)}
    assert sorted(cameras) == ["own-1", "own-2"]
    assert (cameras["own-1"]["rtsp_client"], cameras["own-2"]["rtsp_client"]) == ("builtin", None)


def test_simulate_console_stops_and_starts_cameras_named_on_stdin():
    from vmsapp.simulator_console import run_commands

    class Simulator:
        def __init__(self) -> None:
            self.calls: list[tuple[str, str]] = []

        def stop_camera(self, camera_id: str, timeout: float = 10) -> None:
            if camera_id != "t-01":
                raise KeyError(f"no simulated camera {camera_id!r}")
            self.calls.append(("stop", camera_id))

        def start_camera(self, camera_id: str, timeout: float = 10) -> None:
            self.calls.append(("start", camera_id))

    simulator, said = Simulator(), []
    run_commands(simulator, ["stop t-01\n", "\n", "stop nowhere\n", "reboot t-01\n", "start t-01\n"], said.append)
    assert simulator.calls == [("stop", "t-01"), ("start", "t-01")]
    assert said[0] == "t-01 stopped" and "cannot stop nowhere" in said[1] and "unknown command" in said[2]
    assert said[3] == "t-01 started"
