"""What ingest hands to its consumers: stream descriptions, packets and stream ends.

Packets are plain immutable values (bytes plus timestamps), so any number of consumers
in any thread can read the same packet without touching PyAV objects the ingest owns.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """Describes the video stream of one RTSP session; sent before its first packet."""

    camera_id: str
    stream: str  # "main" or "sub"
    session: int  # increases on every reconnect, so consumers can tell sessions apart
    codec: str  # FFmpeg codec name: "h264", "hevc", ...
    width: int
    height: int
    time_base: Fraction
    fps: float | None
    extradata: bytes  # as the demuxer gave it (Annex B from RTSP SDP), may be empty


@dataclass(frozen=True, slots=True)
class MediaPacket:
    """One encoded video access unit in Annex B, with parameter sets at every keyframe."""

    session: int
    data: bytes
    pts: int
    dts: int
    time_base: Fraction
    keyframe: bool
    wall_time: float  # UTC epoch seconds of this packet's presentation time

    @property
    def pts_seconds(self) -> float:
        return float(self.pts * self.time_base)


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """The session ended (camera lost, stopped, or error); a gap follows until the next StreamInfo."""

    camera_id: str
    stream: str
    session: int
    reason: str


@dataclass(frozen=True, slots=True)
class Discontinuity:
    """The camera's clock broke (or frames went missing) just before the next packet.

    ``kind``: ``backward``, ``forward``, ``drift``, ``burst`` or ``gap`` (see streams.timeline);
    ``seconds``: its size; ``wall_time``: where on our clock it happened (UTC epoch seconds).
    The packets around it are already on the corrected timeline; consumers that keep files
    (the recorder) end their run here (except at ``drift``, a slew within the run), the others
    may ignore it.
    """

    camera_id: str
    stream: str
    session: int
    kind: str
    seconds: float
    wall_time: float


StreamItem = StreamInfo | MediaPacket | StreamEnd | Discontinuity
