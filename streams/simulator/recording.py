"""Synthesize hours of recording in seconds: a few GOPs are encoded once and repeated with new
timestamps, then recorded by the real recorder into real segments and index rows.

For benchmarks and tests of what reads recordings (export, case packages, motion search):
recording an hour in real time is not an option on a 2-core machine. Every GOP starts with an
IDR picture, so repeating GOPs yields a valid H.264 stream. Two kinds of GOP are made: a still
scene, and the same scene with a bright block moving through a region (``Movement``); the
block is at a different place in each moving GOP so consecutive keyframes differ.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import av
import numpy as np

from streams.fanout import PacketFanout
from streams.packets import MediaPacket, StreamEnd, StreamInfo
from streams.recorder import Recorder
from vms.recordings.index import SegmentIndex

TIME_BASE = Fraction(1, 90000)
Region = tuple[float, float, float, float]
Packet = tuple[bytes, int, int, bool]  # data, pts, dts (90 kHz), keyframe
MOVING_VARIANTS = 6
TIMECODE_BITS = 16
TIMECODE_HEIGHT = 12


@dataclass(frozen=True)
class Movement:
    """Something moving from ``start`` to ``end`` seconds after the recording starts, inside the
    region ``(x, y, w, h)`` given as fractions of the picture."""

    start: float
    end: float
    region: tuple[float, float, float, float] = (0.1, 0.4, 0.3, 0.3)


def _background(width: int, height: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    picture = np.full((height, width, 3), 40, np.uint8)
    picture[height // 3: 2 * height // 3] = 70  # a road
    return picture + rng.integers(0, 12, (height, width, 3), dtype=np.uint8)


def _draw(background: np.ndarray, region: Region | None, variant: int, index: int, code: int | None) -> np.ndarray:
    """One picture: the scene, the moving block of ``region`` (if any) and, when ``code`` is given,
    its bits as black/white blocks along the top edge (an in-frame timecode: the frame number)."""
    picture = background.copy()
    height, width = picture.shape[:2]
    if region is not None:
        x, y, w, h = region
        size = max(8, int(min(w * width, h * height) / 3))
        span = max(1, int(w * width) - size)
        left = int(x * width) + (variant * span // MOVING_VARIANTS + index * 3) % span
        top = int(y * height) + (int(h * height) - size) // 2
        picture[top: top + size, left: left + size] = (250, 230, 60)
    if code is not None:
        block = width // TIMECODE_BITS
        for bit in range(TIMECODE_BITS):
            value = 255 if code >> (TIMECODE_BITS - 1 - bit) & 1 else 0
            picture[0:TIMECODE_HEIGHT, bit * block: (bit + 1) * block] = value
    return picture


def _encode(pictures: Iterable[tuple[np.ndarray, bool]], width: int, height: int, fps: int, gop: int) -> list[Packet]:
    """H.264 of ``pictures`` (an iterable of (rgb array, force keyframe)): [(bytes, pts, dts, keyframe)], 90 kHz."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"g": str(gop), "keyint_min": str(gop), "bf": "0", "preset": "ultrafast",
                          "sc_threshold": "0", "forced-idr": "1"}
        for picture, key in pictures:
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pict_type = av.video.frame.PictureType.I if key else av.video.frame.PictureType.NONE
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    buffer.seek(0)
    with av.open(buffer, "r") as container:
        video = container.streams.video[0]
        time_base = video.time_base or TIME_BASE
        raw = [(bytes(p), p.pts, p.dts, p.is_keyframe) for p in container.demux(video)
               if p.dts is not None and p.pts is not None]
    scale = Fraction(time_base) / TIME_BASE
    first = raw[0][1] or 0
    return [(data, int(((pts or 0) - first) * scale), int(((dts or 0) - first) * scale), key) for data, pts, dts, key in raw]


def _encode_gops(width: int, height: int, fps: int, gop: int, regions: list[Region]) -> dict[object, list[Packet]]:
    """{key: [(bytes, pts, dts, keyframe)]} for the still GOP and each moving variant, pts in 90 kHz."""
    background = _background(width, height)
    plans = [("still", None, 0)] + [(("move", r, v), r, v) for r in regions for v in range(MOVING_VARIANTS)]
    packets = _encode(((_draw(background, region, variant, index, None), index == 0)
                       for _, region, variant in plans for index in range(gop)), width, height, fps, gop)
    gops: dict[object, list[Packet]] = {}
    for number, (key, _, _) in enumerate(plans):
        chunk = packets[number * gop: (number + 1) * gop]
        base = chunk[0][2]
        gops[key] = [(data, pts - base, dts - base, key_) for data, pts, dts, key_ in chunk]
    return gops


def synthesize_recording(
    index: SegmentIndex, recordings_dir: Path, camera_id: str, start_wall: float, seconds: float,
    movements: tuple[Movement, ...] = (), width: int = 640, height: int = 360, fps: int = 25, gop: int = 25,
    segment_seconds: float = 60, timecode: bool = False,
) -> int:
    """Record ``seconds`` of the scene starting at wall time ``start_wall`` (UTC epoch seconds);
    returns the bytes of video written. ``index``: where the segments are indexed
    (``SegmentIndex(database)``). ``timecode``: every frame shows its frame number
    (``TIMECODE_BITS`` black/white blocks, ``TIMECODE_HEIGHT`` pixels high, along the top), so a
    viewer can tell which picture is on screen; every frame is then encoded, not repeated."""
    if timecode:
        return _record(index, recordings_dir, camera_id, start_wall, width, height, fps, segment_seconds,
                       _timecoded(seconds, movements, width, height, fps, gop))
    regions = sorted({m.region for m in movements})
    gops = _encode_gops(width, height, fps, gop, regions)
    frame_ticks = 90000 // fps
    gop_ticks = frame_ticks * gop

    def packets() -> Iterator[Packet]:
        for number in range(int(seconds * fps) // gop):
            at = number * gop / fps
            moving = next((m for m in movements if m.start <= at < m.end), None)
            chunk = gops["still"] if moving is None else gops[("move", moving.region, number % MOVING_VARIANTS)]
            base = number * gop_ticks
            for data, pts, dts, key in chunk:
                yield data, base + pts, base + dts, key

    return _record(index, recordings_dir, camera_id, start_wall, width, height, fps, segment_seconds, packets())


def _timecoded(seconds: float, movements: tuple[Movement, ...], width: int, height: int, fps: int, gop: int) -> list[Packet]:
    """Every frame encoded on its own, carrying its frame number (slower: for short recordings)."""
    background = _background(width, height)

    def pictures() -> Iterator[tuple[np.ndarray, bool]]:
        for index in range(int(seconds * fps)):
            moving = next((m for m in movements if m.start <= index / fps < m.end), None)
            region = moving.region if moving is not None else None
            yield _draw(background, region, index // gop % MOVING_VARIANTS, index % gop, index), index % gop == 0

    return _encode(pictures(), width, height, fps, gop)


def _record(index: SegmentIndex, recordings_dir: Path, camera_id: str, start_wall: float, width: int, height: int,
            fps: int, segment_seconds: float, packets: Iterable[Packet]) -> int:
    """Feed (bytes, pts, dts, keyframe) in 90 kHz through the real recorder; returns the bytes."""
    fanout = PacketFanout(camera_id, "main")
    queue = fanout.subscribe("recorder", max_packets=10_000_000, wake_per_packet=False)
    recorder = Recorder(camera_id, queue, index, recordings_dir, segment_seconds).start()
    fanout.publish(StreamInfo(camera_id, "main", 1, "h264", width, height, TIME_BASE, float(fps), b""))
    written = 0
    for data, pts, dts, key in packets:
        fanout.publish(MediaPacket(1, data, pts, dts, TIME_BASE, key, start_wall + pts / 90000))
        written += len(data)
    fanout.publish(StreamEnd(camera_id, "main", 1, "synthesized"))
    deadline = time.monotonic() + 600
    while len(queue) and time.monotonic() < deadline:
        time.sleep(0.01)
    recorder.stop(timeout=60)
    return written
