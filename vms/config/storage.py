"""Typed configuration of recording storage and retention."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ByteSize, ConfigDict, Field


class StorageConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recordings_dir: Path = Path("recordings")
    # Total bytes recordings may use; None = no quota, only the free-space floor applies.
    quota: ByteSize | None = None
    # Retention deletes oldest segments to keep at least this much of the disk free.
    min_free: ByteSize = ByteSize(2 * 1024**3)
    cleanup_interval_seconds: float = Field(default=60, gt=0)


class IngestConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    open_timeout_seconds: float = Field(default=10, gt=0)
    read_timeout_seconds: float = Field(default=10, gt=0)
    backoff_initial_seconds: float = Field(default=1, gt=0)
    backoff_max_seconds: float = Field(default=30, gt=0)
    # RTSP sessions a worker opens at once; the others wait their turn (not counted in the open
    # timeout), so 120 cameras starting together do not time out on a busy CPU. An open mostly
    # waits for the camera (a keyframe, its parameters), so a small gate serialises waiting:
    # 120 cameras were all online 31.6 s after start with 8, 9.6 s with 32 (decision 74).
    concurrent_opens: int = Field(default=32, ge=1)
    # Who speaks RTSP: "builtin" (streams/rtsp, about half the CPU of FFmpeg's demuxer per
    # stream, decisions 75 and 106; opt-in again, decisions 179 and 196) or "ffmpeg" (PyAV's demuxer).
    # Cameras the built-in client cannot serve (UDP only, TLS, other codecs or authentication
    # schemes) fall back to FFmpeg by themselves, one log line each.
    rtsp_client: Literal["ffmpeg", "builtin"] = "ffmpeg"
    # Built-in client: seconds between reads of a stream; each read takes everything that arrived.
    # Longer is cheaper (decision 75) and adds as much to live latency; the frames of one read
    # get arrival times spread over the interval (decision 77).
    read_interval_seconds: float = Field(default=0.05, ge=0, le=0.5)
    # Packets a consumer may fall behind before packets are dropped for it.
    consumer_queue_packets: int = Field(default=500, ge=10)
