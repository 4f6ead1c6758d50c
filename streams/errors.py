"""Turn what FFmpeg and the network raise into one plain sentence per camera problem."""

from __future__ import annotations

from dataclasses import dataclass

import av.error

from streams.rtsp.session import RtspStatusError
from streams.transport import refused_tcp
from vms.cameras.rtsp_url import mask_credentials


class StreamUnusable(Exception):
    """The camera answered, but its stream cannot be recorded as it is (no video, odd codec).

    ``code`` and ``params`` name the problem for clients that say it in their own language."""

    def __init__(self, message: str, code: str = "stream-unusable", **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


# Codecs the recorder can put into MP4 as they come, without re-encoding.
RECORDABLE_CODECS = {"h264", "hevc"}


@dataclass(frozen=True)
class StreamProblem:
    """One camera problem: a code and parameters (for the UI to say in its language), the
    English sentence (logs, CLI), and whether it is a configuration problem that will not fix
    itself (wrong password, wrong path, no video), so callers retry it slowly."""

    code: str
    params: dict[str, object]
    message: str
    configuration: bool


def classify_stream_error(exc: BaseException, where: str, timeout: float) -> StreamProblem:
    """The problem behind an exception from one RTSP session; ``where`` is the masked host:port."""
    def problem(code: str, message: str, configuration: bool, **params: object) -> StreamProblem:
        return StreamProblem(code, {"where": where, **params}, message, configuration)

    if isinstance(exc, StreamUnusable):
        return problem(getattr(exc, "code", "stream-unusable"), str(exc), True, **getattr(exc, "params", {}))
    if refused_tcp(exc):
        return problem(
            "stream-tcp-refused",
            f"camera at {where} refuses RTSP over TCP (461 Unsupported transport): set the camera's transport to udp or auto",
            True,
        )
    status = exc.status if isinstance(exc, RtspStatusError) else None  # the built-in client's refusals
    if isinstance(exc, av.error.HTTPUnauthorizedError) or status == 401:
        return problem("stream-auth-failed", f"authentication failed at {where} (401): check the camera's username and password", True)
    if isinstance(exc, av.error.HTTPForbiddenError) or status == 403:
        return problem("stream-forbidden", f"access forbidden at {where} (403): the account may lack permission for this stream", True)
    if isinstance(exc, av.error.HTTPNotFoundError) or status == 404:
        return problem("stream-path-not-found", f"stream path not found at {where} (404): check the URL path", True)
    if isinstance(exc, ConnectionRefusedError):  # FFmpeg's (av.error) subclasses the built-in one
        return problem("stream-refused", f"connection refused at {where}: nothing listens there (camera off or wrong port)", False)
    if isinstance(exc, (av.error.ExitError, av.error.TimeoutError, TimeoutError)):
        return problem("stream-timeout", f"no answer from {where} within {timeout:g} s (camera unreachable or not streaming)",
                       False, seconds=round(timeout, 1))
    if isinstance(exc, EOFError):
        return problem("stream-closed", f"camera at {where} closed the stream", False)
    if isinstance(exc, ConnectionResetError):
        return problem("stream-reset", f"connection reset by {where}", False)
    text = mask_credentials(str(exc))
    lowered = text.lower()
    if "name or service not known" in lowered or "resolve" in lowered or "temporary failure in name" in lowered:
        return problem("stream-unknown-host", f"host name of {where} could not be resolved", True)
    if "no route to host" in lowered or "network is unreachable" in lowered:
        return problem("stream-no-route", f"no network route to {where}", False)
    return problem("stream-error", f"stream error at {where}: {text}", False, error=text)


def describe_stream_error(exc: BaseException, where: str, timeout: float) -> tuple[str, bool]:
    """Return (message, is_configuration_problem) for an exception from one RTSP session."""
    found = classify_stream_error(exc, where, timeout)
    return found.message, found.configuration
