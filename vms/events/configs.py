"""Each camera's effective detection settings: the API's override if any, else the YAML file's.

A change is announced on the bus so the worker owning the camera restarts its detection.
"""

from __future__ import annotations

from vms.bus import Bus
from vms.config.detection import CameraDetection, DetectionConfig
from vms.db import Database
from vms.db.events import CameraDetectionRow

CONFIG_TOPIC = "detection.config"


class DetectionSettings:
    def __init__(self, db: Database, base: DetectionConfig, bus: Bus | None = None) -> None:
        self.db = db
        self.base = base
        self.bus = bus

    def override(self, camera_id: str) -> CameraDetection | None:
        with self.db.session() as session:
            row = session.get(CameraDetectionRow, camera_id)
            return CameraDetection.model_validate(row.config) if row is not None else None

    def configured(self, camera_id: str) -> CameraDetection | None:
        """The settings as written (override or YAML), even when disabled."""
        override = self.override(camera_id)
        if override is not None:
            return override
        return self.base.cameras.get(camera_id, self.base.default)

    def effective(self, camera_id: str) -> CameraDetection | None:
        """What a worker should run for the camera, or None for no detection."""
        if not self.base.enabled:
            return None
        config = self.configured(camera_id)
        return config if config is not None and config.enabled else None

    def replace(self, camera_id: str, config: CameraDetection, by: str = "system") -> CameraDetection:
        data = config.model_dump(mode="json")
        with self.db.session() as session:
            row = session.get(CameraDetectionRow, camera_id)
            if row is None:
                session.add(CameraDetectionRow(camera_id=camera_id, config=data, updated_by=by))
            else:
                row.config, row.updated_by = data, by
        if self.bus is not None:
            self.bus.publish(CONFIG_TOPIC, {"camera_id": camera_id})
        return config

    def reset(self, camera_id: str) -> None:
        """Forget the API's override; the YAML settings apply again."""
        with self.db.session() as session:
            row = session.get(CameraDetectionRow, camera_id)
            if row is not None:
                session.delete(row)
        if self.bus is not None:
            self.bus.publish(CONFIG_TOPIC, {"camera_id": camera_id})
