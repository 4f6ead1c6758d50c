"""Decode one camera's packets into analysis frames at a chosen rate, or keyframes only.

Full decoding must decode every packet (each P-frame needs the one before) but converts and
hands on only the frames due at ``fps``; keyframes-only mode feeds the decoder nothing else
and asks it to skip non-keyframes, so a 720p camera costs one intra-frame decode per GOP.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction

import av
from av.video.codeccontext import VideoCodecContext

from streams.detect.base import Frame
from streams.packets import MediaPacket, StreamEnd, StreamInfo, StreamItem
from streams.video_decoder import open_video_decoder

log = logging.getLogger(__name__)

# A frame this close before its slot still takes it (timestamps are rounded to the time base).
DUE_SLACK_SECONDS = 0.005


@dataclass
class DecodeStats:
    packets: int = 0
    skipped_packets: int = 0  # not keyframes, in keyframes-only mode
    decoded: int = 0
    delivered: int = 0  # frames handed to detection
    errors: int = 0


class FrameDecoder:
    def __init__(self, camera_id: str, fps: float, keyframes_only: bool = False, analysis_width: int = 320) -> None:
        self.camera_id = camera_id
        self.interval = 1.0 / fps
        self.keyframes_only = keyframes_only
        self.analysis_width = analysis_width
        self.stats = DecodeStats()
        self._codec: VideoCodecContext | None = None
        self._session: int | None = None
        self._next_due: float | None = None

    def feed(self, item: StreamItem) -> list[Frame]:
        if isinstance(item, StreamInfo):
            self._open(item)
            return []
        if isinstance(item, StreamEnd):
            self._codec = None
            self._session = None
            return []
        if not isinstance(item, MediaPacket) or self._codec is None or item.session != self._session:
            return []
        return self._decode(self._codec, item)

    def _open(self, info: StreamInfo) -> None:
        codec = open_video_decoder(info.codec)
        if info.extradata:
            codec.extradata = info.extradata
        # One thread per camera: predictable CPU, and no frame-threading delay of several frames.
        codec.thread_count = 1
        if self.keyframes_only:
            codec.skip_frame = "NONKEY"
        self._codec = codec
        self._session = info.session
        self._next_due = None

    def _decode(self, codec: VideoCodecContext, packet: MediaPacket) -> list[Frame]:
        self.stats.packets += 1
        if self.keyframes_only and not packet.keyframe:
            self.stats.skipped_packets += 1
            return []
        raw = av.Packet(packet.data)
        raw.pts, raw.dts, raw.time_base = packet.pts, packet.dts, packet.time_base
        # (pts, wall time, time base) of this packet, to give each decoded frame its wall time.
        anchor = (packet.pts, packet.wall_time, packet.time_base)
        try:
            decoded = codec.decode(raw)
        except av.FFmpegError as exc:
            self.stats.errors += 1
            log.debug("camera %s: undecodable packet: %s", self.camera_id, exc)
            return []
        frames = []
        for picture in decoded:
            self.stats.decoded += 1
            wall = _wall_time(anchor, picture.pts)
            if self._next_due is not None and wall < self._next_due - DUE_SLACK_SECONDS:
                continue
            # Keep the cadence but never try to catch up a backlog of missed slots.
            self._next_due = max((self._next_due or wall) + self.interval, wall + self.interval / 2)
            frames.append(self._frame(picture, wall))
        return frames

    def _frame(self, picture: av.VideoFrame, wall: float) -> Frame:
        width = min(self.analysis_width, picture.width)
        height = max(2, round(picture.height * width / picture.width / 2) * 2)
        grey = picture.reformat(width=width, height=height, format="gray").to_ndarray()
        self.stats.delivered += 1
        return Frame(self.camera_id, wall, grey, (width, height), picture)


def _wall_time(anchor: tuple[int, float, Fraction], pts: int | None) -> float:
    anchor_pts, anchor_wall, time_base = anchor
    if pts is None:
        return anchor_wall
    return anchor_wall + float((pts - anchor_pts) * time_base)
