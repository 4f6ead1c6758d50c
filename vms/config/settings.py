"""The top-level settings object: one YAML file plus ``VMS_*`` environment variables."""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from vms.cluster.config import ClusterConfig
from vms.config.alarms import AlarmsConfig
from vms.config.cameras import DEFAULT_GROUPS, CameraConfig, GroupConfig, check_camera_references
from vms.config.detection import DetectionConfig, EventsConfig
from vms.config.live import LiveConfig
from vms.config.security import SecurityConfig
from vms.config.storage import IngestConfig, StorageConfig

# The YAML file being loaded; a context variable so load_settings() needs no global class state.
_yaml_file: ContextVar[Path | None] = ContextVar("vms_yaml_file", default=None)


class HttpConfig(BaseSettings):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)


class MetricsConfig(BaseSettings):
    """Where a ``vms worker`` serves its own Prometheus ``/metrics`` (the API serves them on its HTTP port).

    ``port: null`` turns it off. The default listens on loopback only: in a container set
    ``host: 0.0.0.0`` and keep the port on the private network (the endpoint has no sign-in).
    """

    host: str = "127.0.0.1"
    port: int | None = Field(default=9108, ge=0, le=65535)


class Settings(BaseSettings):
    """Everything a vms process needs to know. Environment variables override the YAML file."""

    model_config = SettingsConfigDict(env_prefix="VMS_", env_nested_delimiter="__", extra="forbid")

    data_dir: Path = Path("data")
    # sqlite:///path or postgresql+psycopg://...; default: SQLite inside data_dir.
    database_url: str | None = None
    # redis://host:port/db switches the bus (and camera ownership) to Redis.
    redis_url: str | None = None
    worker_id: str | None = None
    cluster: ClusterConfig = ClusterConfig()
    http: HttpConfig = HttpConfig()
    metrics: MetricsConfig = MetricsConfig()
    storage: StorageConfig = StorageConfig()
    ingest: IngestConfig = IngestConfig()
    live: LiveConfig = LiveConfig()
    security: SecurityConfig = SecurityConfig()
    groups: list[GroupConfig] = Field(default_factory=lambda: list(DEFAULT_GROUPS))
    cameras: list[CameraConfig] = Field(default_factory=list)
    detection: DetectionConfig = DetectionConfig()
    events: EventsConfig = EventsConfig()
    alarms: AlarmsConfig = AlarmsConfig()

    @model_validator(mode="after")
    def _references(self) -> "Settings":
        check_camera_references(self.groups, self.cameras)
        return self

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'vms.db').resolve()}"

    @property
    def recordings_dir(self) -> Path:
        path = self.storage.recordings_dir
        return path if path.is_absolute() else (self.data_dir / path)

    @property
    def bus_url(self) -> str:
        return self.redis_url or "memory://"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        yaml_file = _yaml_file.get()
        if yaml_file is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file, yaml_file_encoding="utf-8"))
        return tuple(sources)


def build_settings(yaml_file: Path | None, **overrides: Any) -> Settings:
    """Instantiate Settings reading ``yaml_file`` (if any) beneath the environment."""
    token = _yaml_file.set(yaml_file)
    try:
        return Settings(**overrides)
    finally:
        _yaml_file.reset(token)
