"""Response models of every JSON route: the OpenAPI document is the contract the UI relies on.

Times are strings in ISO 8601 with their UTC offset (``Timestamp``), as the routes have always
sent them; sizes are bytes, rates per second unless a name says otherwise.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

Timestamp = Annotated[str, Field(description="ISO 8601 time with UTC offset")]


class UserOut(BaseModel):
    username: str
    display_name: str
    role: str
    disabled: bool
    locked_until: Timestamp | None
    last_login_at: Timestamp | None
    created_at: Timestamp


class LoginOut(BaseModel):
    user: UserOut
    csrf_token: str | None = Field(description="send back as X-CSRF-Token on changes (cookie sessions)")
    expires_at: Timestamp | None
    two_factor_enrolment_required: bool = Field(
        default=False, description="this session may only set up two-factor sign-in (and sign out)")
    token: str | None = Field(default=None, description="the bearer token (bearer sign-in only; shown once)")


class TwoFactorState(BaseModel):
    enabled: bool
    required: bool = Field(description="your role must sign in with a second factor")
    enrolment_required: bool = Field(description="this session may only set up two-factor sign-in")


class MeOut(BaseModel):
    user: UserOut
    capabilities: list[str]
    groups: list[str] | None = Field(description="camera groups visible to you; null: all")
    playback_lookback_minutes: float | None
    csrf_token: str | None
    via: str
    alarm_supervisor: bool = Field(False, description="may take over and close alarms others took")
    two_factor: TwoFactorState


class TokenCreated(BaseModel):
    id: str
    token: str = Field(description="shown once")
    name: str
    scopes: list[str] | None
    expires_at: Timestamp | None


class TokenOut(BaseModel):
    id: str
    name: str
    scopes: list[str] | None
    created_at: Timestamp
    expires_at: Timestamp | None
    last_seen_at: Timestamp


class GrantOut(BaseModel):
    id: int
    user: str | None
    role: str | None
    group: str
    capabilities: list[str]
    created_by: str


class AuditEntryOut(BaseModel):
    id: int
    at: Timestamp
    username: str
    role: str
    action: str
    target: str
    detail: dict[str, Any]
    client_ip: str


class GroupOut(BaseModel):
    id: str
    name: str
    retention_days: float | None


class LocationOut(BaseModel):
    lat: float | None
    lon: float | None
    description: str


class RecordingOut(BaseModel):
    enabled: bool
    segment_seconds: float
    stream: str


class StreamStatusOut(BaseModel):
    """A stream's last status from its worker (``streams.status.StreamStatus`` on the bus)."""

    camera_id: str
    stream: str
    state: Literal["connecting", "online", "offline", "error", "stopped"]
    error: str | None
    error_code: str | None = Field(default=None, description="the error as a code (streams.errors.StreamProblem)")
    error_params: dict[str, str | int | float] = Field(default_factory=dict, description="the code's parameters")
    since: float = Field(description="UTC epoch seconds the state began")
    last_packet_at: float | None
    fps: float
    bitrate_bps: float
    codec: str | None
    rtsp_client: Literal["builtin", "ffmpeg"] | None = Field(
        default=None, description="who pulls the stream in its current or last session (a camera the built-in "
        "client cannot serve shows ffmpeg)")
    width: int | None
    height: int | None
    session: int
    reconnects: int
    packets: int
    discontinuities: dict[str, int] = Field(
        default_factory=dict, description="camera-clock discontinuities since the worker started, by kind")
    worker_id: str | None = None


class StorageOut(BaseModel):
    bytes: int
    segments: int
    oldest: Timestamp | None
    newest: Timestamp | None


class CameraOut(BaseModel):
    id: str
    name: str
    group: str
    has_credentials: bool
    location: LocationOut
    enabled: bool
    recording: RecordingOut
    source: str = Field(description="config: kept in step with the YAML file; api: owned by the database")
    transport: Literal["auto", "tcp", "udp"] = Field(
        default="auto", description="RTP transport: auto (TCP, then UDP when the camera answers 461), tcp or udp")
    rtsp_client: Literal["ffmpeg", "builtin"] | None = Field(
        default=None, description="RTSP client for this camera: ffmpeg or builtin; null: the global ingest.rtsp_client")
    status: dict[str, StreamStatusOut] = Field(description="by stream (main, sub); empty: no live worker reports it")
    storage: StorageOut
    capabilities: list[str]
    main_url: str | None = Field(default=None, description="technicians and admins only; never with credentials")
    sub_url: str | None = None


class ProbeProblemOut(BaseModel):
    code: str
    params: dict[str, str | int | float]


class ProbeOut(BaseModel):
    ok: bool
    url: str
    error: str | None
    error_code: str | None = None
    error_params: dict[str, str | int | float] = Field(default_factory=dict)
    warning_codes: list[ProbeProblemOut] = Field(default_factory=list)
    codec: str | None
    profile: str | None
    width: int | None
    height: int | None
    fps: float | None
    keyframe_interval_seconds: float | None
    bitrate_bps: float | None
    has_b_frames: bool
    transport: str | None = Field(default=None, description="the RTP transport that worked: tcp or udp")
    audio: list[str]
    warnings: list[str]
    snapshot_jpeg_base64: str | None


class DetectionOut(BaseModel):
    camera_id: str
    source: Literal["api", "config", "default", "none"]
    active: bool
    config: dict[str, Any] | None = Field(description="the CameraDetection settings in force")


class ClipOut(BaseModel):
    camera_id: str
    start: Timestamp | None
    end: Timestamp | None


class EventOut(BaseModel):
    id: int
    type: str
    camera_id: str
    group: str | None
    zone: str | None
    start: Timestamp | None
    end: Timestamp | None
    detected_at: Timestamp | None
    score: float | None
    snapshot: str | None
    clip: ClipOut
    details: dict[str, Any]
    acknowledged_by: str | None
    acknowledged_at: Timestamp | None
    worker_id: str | None
    phase: str | None = None


class ExportOut(BaseModel):
    id: str
    camera_id: str
    start: Timestamp
    end: Timestamp
    requested_by: str
    reason: str
    state: str
    percent: float | None
    error: str | None
    error_code: str | None = Field(default=None, description="why it failed, as a code (vms.recordings.export_failure)")
    error_params: dict[str, Any] = Field(default_factory=dict, description="the code's parameters")
    file_name: str | None
    bytes: int | None
    sha256: str | None
    first_frame: Timestamp | None
    last_frame: Timestamp | None
    created_at: Timestamp
    finished_at: Timestamp | None
    file_url: str | None
    manifest_url: str | None
    package_url: str | None  # MP4, manifest and signature in one zip, for `vms verify`


class LayoutOut(BaseModel):
    id: int
    name: str
    tiles: int
    cameras: list[str | None]
    updated_at: Timestamp


class TimelineEventOut(BaseModel):
    id: int
    type: str
    start: Timestamp
    end: Timestamp | None
    zone: str | None


class TimelineOut(BaseModel):
    camera_id: str
    start: Timestamp
    end: Timestamp
    recordings: list[tuple[Timestamp, Timestamp]] = Field(description="recorded runs [start, end)")
    gaps: list[tuple[Timestamp, Timestamp]]
    recorded_seconds: float
    events: list[TimelineEventOut]
    available_from: Timestamp | None = Field(description="earliest time you may play back; null: no limit")


class LiveSessionOut(BaseModel):
    id: str
    camera_id: str
    stream: str
    transcoded: bool
    state: str
    frames_sent: int
    restarts: int
    keyframe_requests: int
    first_frame_seconds: float | None
    worker_id: str | None = None


class LiveRelayOut(BaseModel):
    camera_id: str
    stream: str
    viewers: int
    gop_packets: int
    b_frames: bool
    worker_id: str | None = None


class LiveWorkerOut(BaseModel):
    worker_id: str
    error: str | None


class LiveOut(BaseModel):
    sessions: list[LiveSessionOut]
    relays: list[LiveRelayOut]
    workers: list[LiveWorkerOut] | None = Field(default=None, description="scale-out: every live worker asked")


class RecordingProblemOut(BaseModel):
    state: Literal["stalled", "low"]
    seconds_since_segment: float | None
    bytes_per_minute: float | None
    normal_bytes_per_minute: float | None


class RecordingHealthOut(BaseModel):
    cameras: int = Field(description="cameras whose recording a live worker reports")
    problems: dict[str, RecordingProblemOut] = Field(description="by camera: recording stalled or below half its normal")


class HealthOut(BaseModel):
    status: Literal["ok"]
    cameras: int = Field(description="camera streams reported by live workers")
    online: int
    recording: RecordingHealthOut
