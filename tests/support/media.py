"""Make H.264 in memory for tests, as the ingest would publish it (no media files shipped)."""

from __future__ import annotations

import io
from fractions import Fraction

import av
import numpy as np

from streams.packets import MediaPacket, StreamInfo

TIME_BASE = Fraction(1, 90000)


def moving_frames(count: int, width: int = 320, height: int = 240, seed: int = 0):
    """Frames of a bright square moving over a noisy background."""
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 60, (height, width, 3), dtype=np.uint8)
    for i in range(count):
        frame = background.copy()
        x = (i * 7) % (width - 40)
        frame[100:140, x : x + 40] = (240, 200, 40)
        yield frame


def encode_h264(frames: int = 75, fps: int = 25, gop: int = 25, width: int = 320, height: int = 240, bframes: int = 0):
    """Encode ``frames`` frames with libx264 into MPEG-TS (Annex B) and return the demuxed packets."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"g": str(gop), "bf": str(bframes), "preset": "ultrafast", "keyint_min": str(gop)}
        for array in moving_frames(frames, width, height):
            for packet in stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    buffer.seek(0)
    with av.open(buffer) as container:
        video = container.streams.video[0]
        return [
            (bytes(p), p.pts, p.dts, p.is_keyframe, video.time_base)
            for p in container.demux(video)
            if p.dts is not None
        ]


def media_packets(
    camera_id: str = "cam", frames: int = 75, fps: int = 25, gop: int = 25, start_wall: float = 1_700_000_000.0, session: int = 1, **kw
) -> tuple[StreamInfo, list[MediaPacket]]:
    """A StreamInfo and the packets of ``frames`` frames, rebased to 90 kHz like RTSP."""
    raw = encode_h264(frames, fps, gop, **kw)
    width, height = kw.get("width", 320), kw.get("height", 240)
    info = StreamInfo(camera_id, "main", session, "h264", width, height, TIME_BASE, float(fps), b"")
    first = raw[0][1]
    packets = []
    for data, pts, dts, key, tb in raw:
        scale = Fraction(tb) / TIME_BASE
        p, d = int((pts - first) * scale), int((dts - first) * scale)
        packets.append(MediaPacket(session, data, p, d, TIME_BASE, key, start_wall + float(p * TIME_BASE)))
    return info, packets


def decode_all(path) -> int:
    """Decode every frame of a file and return how many; raises on any decoding error."""
    with av.open(str(path)) as container:
        container.streams.video[0].codec_context.options = {"err_detect": "explode"}
        return sum(1 for _ in container.decode(video=0))
