"""The top-level settings object: one YAML file plus ``VMS_*`` environment variables."""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, model_validator
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
    """The web server's address and the limits that keep a flood of clients from hurting the rest.

    Figures: a browser sends its request headers in one packet, so 10 s is generous; 5 s is
    uvicorn's own keep-alive default; an SDP offer of a browser is 3–8 KiB (Chromium 120, one
    video and one audio m-line), so 256 KiB leaves room for many codecs and candidates.
    """

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    header_timeout_seconds: float = Field(default=10.0, gt=0, description="a request's headers must arrive within this")
    keep_alive_seconds: float = Field(default=5.0, gt=0, description="an idle kept-alive connection is closed after this")
    body_timeout_seconds: float = Field(default=60.0, gt=0, description="a request's body must arrive within this")
    max_connections: int = Field(default=2000, ge=1, description="open connections; more are closed at once")
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, description="JSON and form bodies")
    max_sdp_bytes: int = Field(default=256 * 1024, ge=1024, description="WHEP SDP offers (application/sdp)")
    reserved_fds: int = Field(default=1024, ge=64, description="file descriptors kept free for recording and the database")


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
    # Fernet key sealing camera passwords and two-factor seeds in the database (vms.sealing);
    # default: data_dir/secret.key, made at first start. Scale-out: the same on every host.
    secret_key: SecretStr | None = None
    # The UNIX socket of the local bus between the API and worker processes of the embedded
    # ``vms run`` (set by its supervisor for its children; unused with redis_url).
    local_bus: Path | None = None
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
    def models_dir(self) -> Path:
        path = self.detection.models_dir
        return path if path.is_absolute() else (self.data_dir / path)

    @property
    def bus_url(self) -> str:
        if self.redis_url:
            return self.redis_url
        return f"local://{self.local_bus.resolve()}" if self.local_bus else "memory://"

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
