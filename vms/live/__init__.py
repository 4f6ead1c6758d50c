"""What the API needs of live video: the ``LiveGateway`` interface, its answers and its refusals.

The media side (``streams.live``) implements it; the composition root (``vmsapp.runtime``) hands
the right implementation to the web application, which never imports the media stages.
"""

from vms.live.errors import (
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
    TooManyConnecting,
    ViewerLimitReached,
    WorkerFailed,
    WorkerUnavailable,
)

__all__ = [
    "BadOffer",
    "CameraInError",
    "CameraNotFound",
    "CameraNotOwned",
    "CodecNotSupported",
    "LiveError",
    "LiveUnavailable",
    "NoPicture",
    "SessionNotFound",
    "StreamNotFound",
    "TooManyConnecting",
    "ViewerLimitReached",
    "WorkerFailed",
    "WorkerUnavailable",
]
