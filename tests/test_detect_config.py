"""Detection settings: zones, masks, directions and thresholds are checked when loaded."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from vms.config import ConfigError, load_settings
from vms.config.detection import CameraDetection, DetectionConfig, EventsConfig, ZoneConfig

SQUARE = [(0.1, 0.1), (0.9, 0.1), (0.9, 0.9), (0.1, 0.9)]


def zone(**fields) -> ZoneConfig:
    return ZoneConfig(**{"id": "lane-1", "polygon": SQUARE, **fields})


@pytest.mark.parametrize(
    ("polygon", "reason"),
    [
        ([(0.1, 0.1), (0.9, 0.1)], "at least 3 points, got 2"),
        ([(0.1, 0.1), (1.2, 0.1), (0.5, 0.9)], "point 1 (1.2, 0.1) is outside the picture"),
        ([(0.1, 0.1), (-0.1, 0.5), (0.5, 0.9)], "outside the picture"),
        ([(0.1, 0.1), (0.9, 0.9), (0.9, 0.1), (0.1, 0.9)], "self-intersecting: edge 0-1 crosses edge 2-3"),
        ([(0.1, 0.1), (0.5, 0.5), (0.9, 0.9)], "no area"),
    ],
)
def test_bad_polygons_are_rejected_with_the_reason(polygon, reason):
    with pytest.raises(ValidationError) as info:
        zone(polygon=polygon)
    assert reason in str(info.value)


def test_good_zone_normalises_its_direction():
    lane = zone(direction=(2, 0), stopped_seconds=30, congestion_occupancy=0.5, vehicle_only=True)
    assert lane.direction == (1.0, 0.0)
    concave = zone(polygon=[(0.1, 0.1), (0.9, 0.1), (0.5, 0.4), (0.9, 0.9), (0.1, 0.9)])
    assert len(concave.polygon) == 5


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"direction": (0, 0)}, "non-zero vector"),
        ({"stopped_seconds": 0}, "greater than 0"),
        ({"congestion_occupancy": 1.5}, "less than 1"),
    ],
)
def test_bad_zone_rules_are_rejected(fields, reason):
    with pytest.raises(ValidationError) as info:
        zone(**fields)
    assert reason in str(info.value)


def test_camera_settings_check_thresholds_and_zone_ids():
    with pytest.raises(ValidationError, match="defined twice"):
        CameraDetection(zones=[zone(), zone()])
    with pytest.raises(ValidationError, match="object_min_area .* must be smaller than vehicle_min_area"):
        CameraDetection(traffic={"object_min_area": 0.01, "vehicle_min_area": 0.005})
    with pytest.raises(ValidationError, match="less than or equal to 30"):
        CameraDetection(fps=60)
    with pytest.raises(ValidationError, match="detect names labels the model does not have: cat"):
        CameraDetection(objects={"model": "m.onnx", "labels": ["person"], "detect": ["cat"]})


def test_cameras_without_settings_use_the_default_or_nothing():
    tunnel = CameraDetection(zones=[zone()])
    config = DetectionConfig(cameras={"t-01": tunnel, "off": CameraDetection(enabled=False)})
    assert config.for_camera("t-01") is tunnel
    assert config.for_camera("off") is None
    assert config.for_camera("other") is None
    assert DetectionConfig(default=CameraDetection()).for_camera("other") == CameraDetection()
    assert DetectionConfig(enabled=False, cameras={"t-01": tunnel}).for_camera("t-01") is None


def test_webhook_urls_and_types_are_checked():
    with pytest.raises(ValidationError, match="must be http:// or https://"):
        EventsConfig(webhooks=[{"url": "ftp://hotline/x"}])
    with pytest.raises(ValidationError, match="unknown event types fire"):
        EventsConfig(webhooks=[{"url": "https://hotline.example/vms", "types": ["fire"]}])


def test_loader_names_file_key_and_reason(tmp_path):
    path = tmp_path / "vms.yaml"
    path.write_text(
        """
detection:
  cameras:
    tunnel-01:
      zones:
        - id: tube
          polygon: [[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]]
events:
  retention_days: 0
""",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert f"{path}: detection.cameras.tunnel-01.zones[0] (id=tube).polygon: polygon is self-intersecting" in message
    assert f"{path}: events.retention_days: Input should be greater than 0" in message


def test_yaml_detection_settings_load(tmp_path):
    path = tmp_path / "vms.yaml"
    path.write_text(
        """
detection:
  offline_after_seconds: 20
  cameras:
    tunnel-01:
      decode: keyframes
      masks: [{name: clock, polygon: [[0, 0], [0.3, 0], [0.3, 0.08], [0, 0.08]]}]
      zones:
        - {id: tube, polygon: [[0, 0.3], [1, 0.3], [1, 0.8], [0, 0.8]], direction: [1, 0], vehicle_only: true}
events:
  keep_recordings_days: 180
  webhooks: [{url: "https://hotline.example/vms", secret: s3cret, types: [wrong_way, stopped_vehicle]}]
""",
        encoding="utf-8",
    )
    settings = load_settings(path)
    camera = settings.detection.for_camera("tunnel-01")
    assert camera.decode == "keyframes" and camera.zones[0].direction == (1.0, 0.0)
    assert settings.events.webhooks[0].secret.get_secret_value() == "s3cret"
    assert settings.detection.offline_after_seconds == 20
