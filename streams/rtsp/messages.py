"""RTSP/1.0 requests out and responses in (RFC 2326 section 6-7), as bytes on one connection."""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_HEADER_BYTES = 64 * 1024  # a response header larger than this is not RTSP


class RtspProtocolError(Exception):
    """The server sent something that is neither an RTSP response nor an interleaved frame."""


@dataclass(frozen=True)
class Response:
    """One RTSP response; ``headers`` keys are lower case, repeated headers joined by ``, ``."""

    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


def build_request(method: str, url: str, cseq: int, headers: dict[str, str]) -> bytes:
    """The bytes of one request without a body; ``url`` is sent as it is (no credentials in it)."""
    lines = [f"{method} {url} RTSP/1.0", f"CSeq: {cseq}", "User-Agent: vms"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def parse_response(buffer: bytes, start: int) -> tuple[Response | None, int]:
    """The response that starts at ``buffer[start]`` and the offset after it.

    Returns ``(None, start)`` while the response is incomplete. A request the server sends
    (ANNOUNCE, SET_PARAMETER) comes back with status 0 and its method as ``reason``. Raises
    RtspProtocolError when the bytes there are neither.
    """
    end = buffer.find(b"\r\n\r\n", start)
    if end < 0:
        if len(buffer) - start > MAX_HEADER_BYTES:
            raise RtspProtocolError("RTSP response header too large")
        return None, start
    lines = bytes(buffer[start:end]).decode("utf-8", "replace").split("\r\n")
    parts = lines[0].split(" ", 2)
    if lines[0].endswith(" RTSP/1.0") and len(parts) == 3:
        parts = ["", "0", parts[0]]  # a request from the server (some cameras send ANNOUNCE): status 0
    elif not lines[0].startswith("RTSP/") or len(parts) < 2 or not parts[1].isdigit():
        raise RtspProtocolError(f"unexpected bytes from the server: {lines[0][:40]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        key = name.strip().lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    length = int(headers.get("content-length", "0") or 0)
    body_end = end + 4 + length
    if len(buffer) < body_end:
        return None, start
    return Response(int(parts[1]), parts[2] if len(parts) > 2 else "", headers, bytes(buffer[end + 4:body_end])), body_end
