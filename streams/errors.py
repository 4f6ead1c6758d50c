"""Turn what FFmpeg and the network raise into one plain sentence per camera problem."""

from __future__ import annotations

import av.error

from streams.transport import refused_tcp
from vms.cameras.rtsp_url import mask_credentials


class StreamUnusable(Exception):
    """The camera answered, but its stream cannot be recorded as it is (no video, odd codec)."""


# Codecs the recorder can put into MP4 as they come, without re-encoding.
RECORDABLE_CODECS = {"h264", "hevc"}


def describe_stream_error(exc: BaseException, where: str, timeout: float) -> tuple[str, bool]:
    """Return (message, is_configuration_problem) for an exception from one RTSP session.

    ``where`` is the masked ``host:port`` of the camera. Configuration problems (wrong
    password, wrong path, no video) will not fix themselves, so callers retry them slowly.
    """
    if isinstance(exc, StreamUnusable):
        return str(exc), True
    if refused_tcp(exc):
        return (
            f"camera at {where} refuses RTSP over TCP (461 Unsupported transport): "
            "set the camera's transport to udp or auto", True,
        )
    if isinstance(exc, av.error.HTTPUnauthorizedError):
        return f"authentication failed at {where} (401): check the camera's username and password", True
    if isinstance(exc, av.error.HTTPForbiddenError):
        return f"access forbidden at {where} (403): the account may lack permission for this stream", True
    if isinstance(exc, av.error.HTTPNotFoundError):
        return f"stream path not found at {where} (404): check the URL path", True
    if isinstance(exc, av.error.ConnectionRefusedError):
        return f"connection refused at {where}: nothing listens there (camera off or wrong port)", False
    if isinstance(exc, (av.error.ExitError, av.error.TimeoutError, TimeoutError)):
        return f"no answer from {where} within {timeout:g} s (camera unreachable or not streaming)", False
    if isinstance(exc, av.error.EOFError):
        return f"camera at {where} closed the stream", False
    if isinstance(exc, av.error.ConnectionResetError):
        return f"connection reset by {where}", False
    text = mask_credentials(str(exc))
    lowered = text.lower()
    if "name or service not known" in lowered or "resolve" in lowered or "temporary failure in name" in lowered:
        return f"host name of {where} could not be resolved", True
    if "no route to host" in lowered or "network is unreachable" in lowered:
        return f"no network route to {where}", False
    return f"stream error at {where}: {text}", False
