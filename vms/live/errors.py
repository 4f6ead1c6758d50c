"""Why a live view or a snapshot cannot be given; the API turns each into an HTTP problem."""

from __future__ import annotations


class LiveError(Exception):
    """Base of the refusals below; ``str()`` is a sentence for the operator."""


class CameraNotFound(LiveError):
    """No enabled camera with that id runs on this worker."""


class StreamNotFound(LiveError):
    """The camera exists but has no such stream (e.g. no sub-stream configured)."""


class CodecNotSupported(LiveError):
    """The camera's codec cannot go to a browser as it is (H.265, MJPEG, ...)."""


class CameraInError(LiveError):
    """The camera's stream is in the ``error`` state (a configuration problem such as a wrong
    password or a refused transport); ``str()`` carries the camera's reason."""


class ViewerLimitReached(LiveError):
    """Too many viewers on this camera or on the whole server."""


class TooManyConnecting(LiveError):
    """One viewer (user) already has too many sessions that have not connected yet."""


class NoPicture(LiveError):
    """No keyframe has been received yet (camera offline or still connecting)."""


class BadOffer(LiveError):
    """The SDP offer cannot be answered (malformed, no video, no H.264)."""


class SessionNotFound(LiveError):
    """No live session with that id (already ended, or never existed)."""


class LiveUnavailable(LiveError):
    """This server cannot show live video at all (an API without workers to reach)."""


class CameraNotOwned(LiveError):
    """No worker records the camera right now (disabled, or failing over to another worker)."""


class WorkerUnavailable(LiveError):
    """The worker recording the camera did not answer in time."""


class WorkerFailed(LiveError):
    """The worker recording the camera failed unexpectedly while answering."""
