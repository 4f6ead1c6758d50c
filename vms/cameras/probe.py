"""What probing a camera found: its codec, size, rates and problems, in plain words."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ProbeResult:
    ok: bool
    url: str  # credential-free
    error: str | None = None
    # The error and warnings as codes with parameters (streams.errors.StreamProblem), for the UI's own words.
    error_code: str | None = None
    error_params: dict[str, Any] = field(default_factory=dict)
    warning_codes: list[dict[str, Any]] = field(default_factory=list)
    codec: str | None = None
    profile: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    keyframe_interval_seconds: float | None = None
    bitrate_bps: float | None = None
    has_b_frames: bool = False
    transport: str | None = None  # the RTP transport that worked: "tcp" or "udp"
    audio: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    snapshot_jpeg: bytes | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("snapshot_jpeg")
        return data
