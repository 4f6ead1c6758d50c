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
    # A worker told to stop (SIGTERM, `vms worker` ended) first hands its cameras over as above
    # and waits at most this long for the other workers to take them (a lease period to claim
    # plus handover_seconds is typical); 0 stops at once and the cameras move when released.
    drain_seconds: float = Field(default=30.0, ge=0.0, le=300.0)
    # While Redis cannot be reached during that drain, no other worker can take the cameras: the
    # stopping worker records them on, and the outage's time does not count against drain_seconds,
    # up to this much more (a camera recorded by nobody is the one outcome not accepted; decision
    # 171). The process manager's stop timeout (compose stop_grace_period) bounds it too.
    drain_outage_seconds: float = Field(default=300.0, ge=0.0, le=3600.0)
    # Warm standby (decision 100): each camera is also pulled, unrecorded, by one other worker,
    # which keeps this many seconds of it (whole GOPs) in memory; when it takes the camera over
    # its recording starts that far back, before the holder died, instead of one RTSP connect and
    # a keyframe after the takeover. Costs a second RTSP session per camera and bitrate x seconds
    # of memory (4 Mb/s x 12 s = 6 MB). 0 turns it off. Recommended: 12 (lease_seconds for a hung
    # host + a GOP + margin). Only with Redis: a single `vms run` worker has nobody to stand by.
    standby_seconds: float = Field(default=0.0, ge=0.0, le=120.0)
    # The pre-roll ring of one standby camera holds at most this many bytes (its oldest GOPs go first).
    standby_max_bytes: int = Field(default=32_000_000, ge=100_000)
    # Most cameras this worker records however few workers are alive (None: no limit).
    capacity: int | None = Field(default=None, ge=0)
    # Every key and channel of one deployment starts with this (several deployments can share a Redis).
    key_prefix: str = Field(default="vms:", min_length=1)
