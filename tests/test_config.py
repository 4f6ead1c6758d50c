import dataclasses
import textwrap
from pathlib import Path

import pytest

from vms.config import ConfigError, load_settings

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "vms.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_example_config_loads():
    settings = load_settings(REPO / "config" / "example.yaml")
    groups = {g.id for g in settings.groups}
    assert {"tunnel", "gateway", "rented"} <= groups
    assert any(c.group == "tunnel" for c in settings.cameras)
    assert all(c.credentials is None or c.credentials.username for c in settings.cameras)


def test_environment_overrides_the_file(tmp_path, monkeypatch):
    path = write(tmp_path, "storage:\n  min_free: 1GB\n")
    monkeypatch.setenv("VMS_STORAGE__MIN_FREE", "5GB")
    monkeypatch.setenv("VMS_REDIS_URL", "redis://127.0.0.1:6379/0")
    settings = load_settings(path)
    assert settings.storage.min_free == 5_000_000_000
    assert settings.bus_url == "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        (
            """
            cameras:
              - {id: cam-1, name: A, group: tunnel, main_url: "file:///etc/passwd"}
            """,
            "cameras[0] (id=cam-1).main_url: camera URL must start with rtsp://",
        ),
        (
            """
            cameras:
              - {id: cam-1, name: A, group: nowhere, main_url: "rtsp://h/x"}
            """,
            "camera 'cam-1' is in group 'nowhere', which is not defined",
        ),
        (
            """
            cameras:
              - {id: "../etc", name: A, group: tunnel, main_url: "rtsp://h/x"}
            """,
            "cameras[0] (id=../etc).id: String should match pattern",
        ),
        (
            """
            cameras:
              - {id: cam-1, name: A, group: tunnel, main_url: "rtsp://h/x", location: {lat: 95, lon: 0}}
            """,
            "cameras[0] (id=cam-1).location.lat: Input should be less than or equal to 90",
        ),
        (
            """
            cameras:
              - {id: cam-1, name: A, group: tunnel, main_url: "rtsp://h/x", rtsp_client: gstreamer}
            """,
            "cameras[0] (id=cam-1).rtsp_client: Input should be 'ffmpeg' or 'builtin'",
        ),
        ("storage:\n  quota: lots\n", "storage.quota: could not parse value and unit"),
        ("camera:\n  - x\n", "camera: Extra inputs are not permitted"),
        ("cameras: [\n", "not valid YAML"),
    ],
)
def test_invalid_config_names_file_key_and_reason(tmp_path, yaml_text, expected):
    path = write(tmp_path, yaml_text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert str(path) in message
    assert expected in message


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.yaml")


def test_a_camera_may_choose_its_rtsp_client_and_none_means_the_global_one(tmp_path):
    from vms.cameras.spec import CameraSpec
    from vms.db import CameraRow

    path = write(tmp_path, """
        ingest: {rtsp_client: builtin}
        cameras:
          - {id: odd, name: A, group: tunnel, main_url: "rtsp://h/a", rtsp_client: ffmpeg}
          - {id: plain, name: B, group: tunnel, main_url: "rtsp://h/b"}
        """)
    settings = load_settings(path)
    odd, plain = settings.cameras
    assert settings.ingest.rtsp_client == "builtin"
    assert (odd.rtsp_client, plain.rtsp_client) == ("ffmpeg", None)
    row = CameraRow(id="odd", name="A", group_id="tunnel", main_url="rtsp://h/a", sub_url=None, username=None,
                    password=None, recording_enabled=True, segment_seconds=60, record_stream="main",
                    transport="auto", rtsp_client="ffmpeg")
    spec = CameraSpec.from_row(row)
    assert spec.rtsp_client == "ffmpeg"
    # A changed client restarts the camera's pipeline (the worker compares source()).
    assert spec.source() != dataclasses.replace(spec, rtsp_client="builtin").source()
