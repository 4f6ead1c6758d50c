"""Which RTP transport an RTSP pull asks for: TCP first, UDP for cameras that refuse TCP.

RTP over the RTSP TCP connection (interleaved) crosses firewalls and loses nothing, so it is
the default. Some cameras answer a SETUP asking for it with ``461 Unsupported transport``;
FFmpeg reports that as ``EPROTONOSUPPORT`` ("Protocol not supported"). A camera's
``transport`` setting says what to do: ``tcp`` (only TCP: a refusal is a configuration
error), ``udp`` (only UDP) or ``auto`` (TCP, and UDP from the first 461 on).
"""

from __future__ import annotations

import errno
import logging

log = logging.getLogger(__name__)

TRANSPORTS = ("auto", "tcp", "udp")


def refused_tcp(exc: BaseException) -> bool:
    """True when ``exc`` is FFmpeg's answer to an RTSP 461 (the camera refuses this transport)."""
    return isinstance(exc, OSError) and exc.errno == errno.EPROTONOSUPPORT


class TransportChoice:
    """The transport of one stream's next open; remembers a fallback across reconnects."""

    def __init__(self, setting: str = "auto", where: str = "") -> None:
        if setting not in TRANSPORTS:
            raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}, not {setting!r}")
        self.setting = setting
        self.where = where
        self.current = "udp" if setting == "udp" else "tcp"

    def options(self) -> dict[str, str]:
        """FFmpeg RTSP demuxer options for the next open."""
        return {"rtsp_transport": self.current}

    def fall_back(self, exc: BaseException) -> bool:
        """After a failed open: True when UDP should be tried now (``auto`` and TCP refused)."""
        if self.setting == "auto" and self.current == "tcp" and refused_tcp(exc):
            log.warning("camera at %s refuses RTSP over TCP (461 Unsupported transport): using UDP", self.where)
            self.current = "udp"
            return True
        return False
