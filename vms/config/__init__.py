"""Configuration: typed models split by concern, loaded from YAML and ``VMS_*`` variables."""

from vms.config.cameras import CameraConfig, Credentials, GroupConfig, Location, RecordingSettings
from vms.config.loader import ConfigError, load_settings
from vms.config.settings import Settings
from vms.config.storage import IngestConfig, StorageConfig

__all__ = [
    "CameraConfig",
    "ConfigError",
    "Credentials",
    "GroupConfig",
    "IngestConfig",
    "Location",
    "RecordingSettings",
    "Settings",
    "StorageConfig",
    "load_settings",
]
