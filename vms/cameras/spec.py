"""What a worker needs to pull and record one camera, and the rules choosing its streams."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vms.db import CameraRow


@dataclass(frozen=True)
class CameraSpec:
    """Everything a worker needs to pull and record one camera (credentials included: never log it)."""

    id: str
    name: str
    group: str
    main_url: str
    sub_url: str | None
    username: str | None
    password: str | None
    recording_enabled: bool
    segment_seconds: float
    record_stream: str
    transport: str = "auto"  # RTP transport: "auto" (TCP, UDP on 461), "tcp" or "udp"
    rtsp_client: str | None = None  # "ffmpeg", "builtin"; None: the global ingest.rtsp_client

    @classmethod
    def from_row(cls, row: "CameraRow") -> "CameraSpec":
        return cls(
            id=row.id,
            name=row.name,
            group=row.group_id,
            main_url=row.main_url,
            sub_url=row.sub_url,
            username=row.username,
            password=row.password,
            recording_enabled=row.recording_enabled,
            segment_seconds=row.segment_seconds,
            record_stream=row.record_stream,
            transport=row.transport or "auto",
            rtsp_client=row.rtsp_client,
        )

    @property
    def recorded_stream(self) -> str:
        """``"main"`` or ``"sub"``: the stream recorded (the sub-stream only if the camera has one)."""
        return self.record_stream if self.record_stream == "main" or self.sub_url else "main"

    def analysed_stream(self, choice: str) -> str:
        """The stream detection decodes for a configured ``choice`` of ``"auto"``, ``"main"`` or ``"sub"``.

        ``"auto"`` and ``"sub"`` take the sub-stream when the camera has one (cheaper to decode,
        enough for detection); otherwise the main stream.
        """
        return "sub" if choice in ("auto", "sub") and self.sub_url else "main"

    def url(self, stream: str) -> str | None:
        """The RTSP URL of ``"main"`` or ``"sub"`` (None: no such stream)."""
        return self.main_url if stream == "main" else self.sub_url

    def source(self) -> tuple[object, ...]:
        """What the camera's pipeline is built from: a change here restarts it, any other (name,
        group) does not (a rename cost 1.6 s of recording, issue 11)."""
        return (self.main_url, self.sub_url, self.username, self.password, self.recording_enabled,
                self.segment_seconds, self.record_stream, self.transport, self.rtsp_client)

    def __repr__(self) -> str:  # keep the password out of tracebacks and debug logs
        return f"CameraSpec(id={self.id!r}, main_url={self.main_url!r}, user={'set' if self.username else 'none'})"
