"""Typed configuration of live viewing: viewer limits, the GOP cache and session timeouts."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class LiveConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # A browser tile is one viewer; the limits protect the server's CPU and uplink.
    max_viewers_per_camera: int = Field(default=32, ge=1)
    max_viewers_total: int = Field(default=256, ge=1)
    # Re-encoded viewers cost a decoder and an encoder each, so they have their own small limit.
    max_transcoded_viewers: int = Field(default=4, ge=0)
    # A relay stays subscribed this long after its last viewer left, so a tile that reconnects
    # or switches back starts from the GOP cache; None keeps relays subscribed for good.
    idle_seconds: float | None = Field(default=30, ge=0)
    # Keep a relay (and so a GOP cache) on every camera's main stream from the start, so even
    # the first viewer starts at once. Costs one thread and one GOP of memory per camera.
    prewarm: bool = False
    # Streams whose keyframes come further apart than this always keep a relay and its GOP
    # cache (whatever ``prewarm`` says), so the first viewer of a 10-30 s GOP camera starts at once.
    warm_gop_seconds: float = Field(default=3.0, gt=0)
    # GOPs longer than this (seconds of the camera's clock) or heavier are not cached (viewers
    # then wait for the next keyframe). By time, not packets: a 30 s GOP must still start at once.
    max_gop_seconds: float = Field(default=35.0, gt=0)
    max_gop_megabytes: int = Field(default=64, ge=1)
    # A viewer this many packets behind is restarted from the cached keyframe.
    viewer_queue_packets: int = Field(default=150, ge=2)
    # A session whose browser never completed ICE/DTLS within this time is dropped. On a LAN a
    # browser connects in well under a second; a longer wait only lets unanswered offers hold slots.
    connect_timeout_seconds: float = Field(default=8, gt=0)
    # Sessions one viewer (user) may have that have not connected yet: in all, and of one camera.
    # A 16-tile wall opens 16 at once; one camera is rarely on more than a tile and full screen.
    max_connecting_per_viewer: int = Field(default=20, ge=1)
    max_connecting_per_viewer_camera: int = Field(default=4, ge=1)
    # A connected session from which no RTCP arrived this long is treated as gone (tab closed,
    # network lost): browsers send receiver reports about every second.
    viewer_timeout_seconds: float = Field(default=6, gt=0)
    # STUN/TURN URLs for the server's side of ICE; none are needed on a LAN (and aiortc's
    # default, Google's public STUN server, is unreachable from a closed network).
    ice_servers: list[str] = Field(default_factory=list)
    # Resolve browsers' mDNS (``.local``) ICE candidates; the answer then waits up to ~1 s for
    # multicast DNS. Off: the browser's address is learnt from its connectivity checks instead.
    resolve_mdns_candidates: bool = False
    snapshot_cache_seconds: float = Field(default=1.0, ge=0)
    # How long a WHEP offer waits for a stream that has never answered (started on demand) to
    # connect or fail, so a camera that refuses us is refused with its reason at once.
    offer_wait_seconds: float = Field(default=3.0, ge=0)
    # How long a snapshot waits for a first keyframe of a stream that is connecting.
    snapshot_wait_seconds: float = Field(default=4.0, ge=0)
