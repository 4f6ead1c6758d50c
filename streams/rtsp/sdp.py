"""The video track of an SDP description (RFC 4566) and the parameter sets it carries.

Only what the recorder and live relay need: payload type, codec, clock rate, control URL and
the parameter sets of ``a=fmtp`` (RFC 6184 ``sprop-parameter-sets`` for H.264, RFC 7798
``sprop-vps/sps/pps`` for H.265) turned into Annex B extradata, as FFmpeg's demuxer gives it.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from urllib.parse import urljoin

# RTP encoding names (upper case) to FFmpeg codec names, as StreamInfo.codec uses them.
CODECS = {"H264": "h264", "H265": "hevc"}
START_CODE = b"\x00\x00\x00\x01"


class SdpUnsupported(Exception):
    """The description has no video track this client can depacketize (FFmpeg takes over)."""


@dataclass(frozen=True)
class VideoTrack:
    """The first video track: ``codec`` is ``h264`` or ``hevc``, ``clock_rate`` in Hz."""

    payload_type: int
    codec: str
    clock_rate: int
    control: str  # absolute URL to SETUP
    extradata: bytes  # Annex B parameter sets from the fmtp line, may be empty
    fps: float | None


def video_track(sdp: str, base_url: str) -> VideoTrack:
    """Parse ``sdp``; ``base_url`` is the Content-Base (or the DESCRIBE URL) relative controls join.

    Raises SdpUnsupported when there is no video, or its codec or packetization is not ours.
    """
    session_control = ""
    media: list[list[str]] = []
    for raw in sdp.splitlines():
        line = raw.strip()
        if line.startswith("m="):
            media.append([line])
        elif media:
            media[-1].append(line)
        elif line.startswith("a=control:"):
            session_control = line[len("a=control:"):]
    for lines in media:
        fields = lines[0][2:].split()
        if fields[0] != "video" or len(fields) < 4:
            continue
        if fields[2] not in ("RTP/AVP", "RTP/AVPF"):
            raise SdpUnsupported(f"video transport {fields[2]}")
        payload_type = int(fields[3])
        return _track(lines[1:], payload_type, _base(base_url, session_control))
    raise SdpUnsupported("no video track")


def _base(base_url: str, session_control: str) -> str:
    if session_control and session_control != "*":
        base_url = urljoin(base_url, session_control)
    return base_url if base_url.endswith("/") else base_url + "/"


def _track(attributes: list[str], payload_type: int, base: str) -> VideoTrack:
    encoding, clock_rate, control, fps = "", 90000, "", None
    fmtp: dict[str, str] = {}
    for line in attributes:
        key, _, value = line[2:].partition(":") if line.startswith("a=") else ("", "", "")
        if key == "rtpmap" and value.split()[0] == str(payload_type):
            name, _, rate = value.split()[1].partition("/")
            encoding, clock_rate = name.upper(), int(rate.split("/")[0] or 90000)
        elif key == "fmtp" and value.split()[0] == str(payload_type):
            for item in value.split(None, 1)[1].split(";") if " " in value else []:
                name, _, setting = item.strip().partition("=")
                fmtp[name.lower()] = setting.strip()
        elif key == "control":
            control = value
        elif key == "framerate":
            fps = float(value) if value.replace(".", "", 1).isdigit() else None
    codec = CODECS.get(encoding)
    if codec is None:
        raise SdpUnsupported(f"video codec {encoding or 'unknown'}")
    if fmtp.get("packetization-mode", "0") not in ("0", "1") or fmtp.get("sprop-max-don-diff", "0") != "0":
        raise SdpUnsupported("interleaved packetization")  # needs decoding-order reordering
    url = control if "://" in control else urljoin(base, control) if control and control != "*" else base.rstrip("/")
    return VideoTrack(payload_type, codec, clock_rate, url, _parameter_sets(codec, fmtp), fps)


def _parameter_sets(codec: str, fmtp: dict[str, str]) -> bytes:
    names = ["sprop-parameter-sets"] if codec == "h264" else ["sprop-vps", "sprop-sps", "sprop-pps"]
    units = []
    for name in names:
        for item in fmtp.get(name, "").split(","):
            try:
                unit = base64.b64decode(item.strip(), validate=True) if item.strip() else b""
            except (binascii.Error, ValueError):
                continue  # a damaged set: in-band parameter sets still come with each keyframe
            if unit:
                units.append(START_CODE + unit)
    return b"".join(units)
