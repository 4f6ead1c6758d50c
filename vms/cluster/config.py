"""Typed configuration of scale-out: camera leases, worker capacity, the Redis key prefix."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ClusterConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # A camera's lease lives this long without renewal; renewed every third of it. A killed
    # worker's cameras are free after at most this long and recording again about one
    # renewal period and one RTSP connect later (6 s -> ~10 s).
    lease_seconds: float = Field(default=6.0, ge=1.0, le=120.0)
    # A worker whose process died (its presence subscription in Redis closed, vms.cluster.presence)
    # is declared gone after this long without it, and its cameras are taken at once instead of
    # when their leases expire. 0 turns presence off: failover waits for the lease TTL.
    presence_grace_seconds: float = Field(default=0.5, ge=0.0, le=60.0)
    # A camera shed to another worker is still recorded here this long, so its next owner (one
    # renewal period to claim it, one RTSP connect to start) begins before this one stops.
    handover_seconds: float = Field(default=10.0, ge=0.0, le=120.0)
    # Most cameras this worker records however few workers are alive (None: no limit).
    capacity: int | None = Field(default=None, ge=0)
    # Every key and channel of one deployment starts with this (several deployments can share a Redis).
    key_prefix: str = Field(default="vms:", min_length=1)
