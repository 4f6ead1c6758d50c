"""The fallback for cameras browsers cannot play as they are: decode, and let aiortc re-encode H.264.

Every transcoded viewer costs a decoder here and an x264 encoder in aiortc, which is why it is
offered only when asked for and has its own viewer limit. The benchmark also uses it to show
what passthrough saves.
"""

from __future__ import annotations

import asyncio

import av
from av.video.codeccontext import VideoCodecContext

from streams.live.track import VIDEO_TIME_BASE, RelayTrack
from streams.packets import MediaPacket, StreamInfo
from streams.video_decoder import open_video_decoder

DECODABLE_CODECS = {"h264", "hevc", "mjpeg", "mpeg4"}


class TranscodeTrack(RelayTrack):
    """Returns decoded frames; aiortc's sender encodes them (and handles PLI by itself)."""

    def __init__(self, name: str, max_queue: int = 150) -> None:
        super().__init__(name, max_queue)
        self._decoder: VideoCodecContext | None = None
        self._decoder_codec: str | None = None

    def accepts(self, codec: str) -> bool:
        return codec in DECODABLE_CODECS

    def start_from(self, info: StreamInfo | None, packets: list[MediaPacket]) -> None:
        self._decoder = None  # a restart begins at a keyframe: a fresh decoder is simplest
        super().start_from(info, packets)

    async def recv(self) -> av.VideoFrame:
        loop = asyncio.get_running_loop()
        while True:
            packet, burst = await self._next()
            pts, _ = self.timeline.stamp(packet, burst)
            frames = await loop.run_in_executor(None, self._decode, packet)
            # Of a cached burst only the newest picture is worth encoding.
            if not frames or (burst and self._queue and self._queue[0][1]):
                continue
            frame = frames[-1]
            frame.pts, frame.time_base = pts, VIDEO_TIME_BASE
            self._sent()
            return frame

    def _decode(self, packet: MediaPacket) -> list[av.VideoFrame]:
        codec = self.codec or "h264"
        if self._decoder is None or self._decoder_codec != codec:
            self._decoder = open_video_decoder(codec)
            self._decoder.thread_type = "SLICE"  # frame threading would delay every frame
            self._decoder_codec = codec
        try:
            return list(self._decoder.decode(av.Packet(packet.data)))
        except av.error.FFmpegError:
            return []
