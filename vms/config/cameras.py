"""Typed configuration of cameras and camera groups."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_core import PydanticCustomError

from vms.cameras.rtsp_url import InvalidCameraUrl, validate_rtsp_url

# Camera and group ids appear in file paths and URLs, so they are kept to a safe alphabet.
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Credentials(_Strict):
    """RTSP credentials, kept apart from the URL so the URL may be logged."""

    username: str = Field(min_length=1)
    password: SecretStr = SecretStr("")


class Location(_Strict):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    description: str = Field(default="", max_length=1000)


class RecordingSettings(_Strict):
    enabled: bool = True
    # Segments are cut at the first keyframe after this many seconds.
    segment_seconds: float = Field(default=60, ge=2, le=3600)
    stream: Literal["main", "sub"] = "main"


class CameraConfig(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    group: str = Field(pattern=ID_PATTERN)
    main_url: str
    sub_url: str | None = None
    credentials: Credentials | None = None
    location: Location | None = None
    recording: RecordingSettings = RecordingSettings()
    enabled: bool = True
    # RTP transport: "auto" = TCP, then UDP once the camera answers 461 Unsupported transport;
    # "tcp" = TCP only (a camera refusing it is a configuration error); "udp" = UDP only.
    transport: Literal["auto", "tcp", "udp"] = "auto"
    # Who speaks RTSP to this camera: "ffmpeg" or "builtin" (streams/rtsp); None = the global
    # ingest.rtsp_client. Lets one odd camera stay on FFmpeg (or one try the built-in client).
    rtsp_client: Literal["ffmpeg", "builtin"] | None = None

    @field_validator("main_url", "sub_url")
    @classmethod
    def _rtsp_only(cls, url: str | None) -> str | None:
        if url is None:
            return None
        try:
            return validate_rtsp_url(url)
        except InvalidCameraUrl as exc:
            # "camera_url.<reason>": the dashboard words it (validation.camera_url.no-host ...)
            raise PydanticCustomError(f"camera_url.{exc.code}", "{message}", {"message": str(exc), **exc.params}) from None


class GroupConfig(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    name: str
    # None means "keep until the disk quota or free-space floor needs the room".
    retention_days: float | None = Field(default=None, gt=0)


DEFAULT_GROUPS = [
    GroupConfig(id="tunnel", name="Hầm Thủ Thiêm", retention_days=30),
    GroupConfig(id="gateway", name="Cửa ngõ", retention_days=30),
    GroupConfig(id="rented", name="Camera thuê", retention_days=15),
]


def check_camera_references(groups: list[GroupConfig], cameras: list[CameraConfig]) -> None:
    """Raise ValueError when ids repeat or a camera names a group that does not exist."""
    group_ids = [g.id for g in groups]
    no_repeats("group", group_ids)
    no_repeats("camera", [c.id for c in cameras])
    for camera in cameras:
        if camera.group not in group_ids:
            raise ValueError(
                f"camera '{camera.id}' is in group '{camera.group}', which is not defined "
                f"(groups: {', '.join(group_ids)})"
            )


def no_repeats(kind: str, ids: list[str]) -> None:
    """ValueError naming the first id that appears twice among ``ids`` (``kind``: "camera", "group"...)."""
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            raise ValueError(f"{kind} id '{item}' is defined twice")
        seen.add(item)

