"""Each camera's effective detection settings: the API's override if any, else the YAML file's.

A change is announced on the bus so the worker owning the camera restarts its detection.
"""

from __future__ import annotations

from pathlib import Path

from vms.bus import Bus
from vms.config.detection import CameraDetection, DetectionConfig
from vms.db import Database
from vms.db.events import CameraDetectionRow
from vms.errors import CodedError

CONFIG_TOPIC = "detection.config"


class ModelNotAllowed(CodedError):
    """An object model outside the models folder (code ``not-onnx-in-folder``) or not there at
    all (``missing``); ``params`` name the model as given, never the server's folder."""


class DetectionSettings:
    def __init__(self, db: Database, base: DetectionConfig, bus: Bus | None = None, models_dir: Path | None = None) -> None:
        self.db = db
        self.base = base
        self.bus = bus
        self.models_dir = Path(models_dir if models_dir is not None else base.models_dir)

    def model_path(self, name: Path | str) -> Path:
        """The file a model name stands for, inside the models folder; ModelNotAllowed otherwise.

        Names are relative, end in .onnx and, once links are followed, stay inside the folder, so
        the API can never make a worker parse another file of the server (the database, say)."""
        name = Path(name)
        if name.is_absolute() or ".." in name.parts or name.suffix.lower() != ".onnx":
            raise ModelNotAllowed(f"name a .onnx file inside the models folder ({self.models_dir}), e.g. 'people.onnx'",
                                  "not-onnx-in-folder", model=str(name))
        folder = self.models_dir.resolve()
        path = (folder / name).resolve()
        if folder not in path.parents or not path.is_file():
            raise ModelNotAllowed(f"no model '{name}' in the models folder ({self.models_dir})", "missing", model=str(name))
        return path

    def override(self, camera_id: str) -> CameraDetection | None:
        """The API's settings, with the object model's name turned into its file in the models folder."""
        stored = self.stored(camera_id)
        if stored is None or stored.objects is None or stored.objects.model is None:
            return stored  # no object model, or the one vms ships
        try:
            path = self.model_path(stored.objects.model)
        except ModelNotAllowed:  # removed since, or written before the folder rule: run without it
            return stored.model_copy(update={"objects": None})
        return stored.model_copy(update={"objects": stored.objects.model_copy(update={"model": path})})

    def stored(self, camera_id: str) -> CameraDetection | None:
        """The API's settings as stored (model names relative to the models folder)."""
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
        """Store the API's settings (ModelNotAllowed for a model outside the models folder)."""
        if config.objects is not None and config.objects.model is not None:
            self.model_path(config.objects.model)
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
