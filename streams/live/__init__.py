"""Live viewing: camera H.264 relayed to browsers over WebRTC without re-encoding.

``LiveHub`` (one per worker) owns a ``LiveRelay`` per camera stream (one fan-out subscription,
a GOP cache) and the viewers' WebRTC sessions; ``PassthroughTrack`` hands the camera's access
units to aiortc, which only packetizes them. The API reaches live video through one
``LiveGateway`` (``gateway``): the hub of its own process, or the camera's worker over the bus
(``remote``).
"""

from streams.live.errors import (
    BadOffer,
    CameraInError,
    CameraNotFound,
    CameraNotOwned,
    CodecNotSupported,
    LiveError,
    LiveUnavailable,
    NoPicture,
    SessionNotFound,
    StreamNotFound,
    ViewerLimitReached,
    WorkerFailed,
    WorkerUnavailable,
)
from streams.live.hub import LiveHub, LiveSession
from streams.live.relay import LiveRelay
from streams.live.snapshot import Snapshot
from streams.live.track import PassthroughTrack

__all__ = [
    "BadOffer",
    "CameraInError",
    "CameraNotFound",
    "CameraNotOwned",
    "CodecNotSupported",
    "LiveError",
    "LiveUnavailable",
    "LiveHub",
    "LiveRelay",
    "LiveSession",
    "NoPicture",
    "PassthroughTrack",
    "SessionNotFound",
    "Snapshot",
    "StreamNotFound",
    "ViewerLimitReached",
    "WorkerFailed",
    "WorkerUnavailable",
]
