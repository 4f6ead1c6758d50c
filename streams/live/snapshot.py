"""JPEG snapshots: the newest keyframe of a stream, decoded with PyAV and scaled on demand.

Thumbnails of a wall are requested often by many browsers; a short cache per (stream, width)
keeps that from costing a decode per request.
"""

from __future__ import annotations

import threading
import time
import av
import cv2

from streams.packets import MediaPacket, StreamInfo
from streams.video_decoder import open_video_decoder
from vms.live.gateway import MAX_WIDTH, MIN_WIDTH, Snapshot  # noqa: F401  (re-exported for the hub)

JPEG_QUALITY = 85

def decode_keyframe(info: StreamInfo, packet: MediaPacket) -> av.VideoFrame:
    """Decode one keyframe on its own (parameter sets travel with every keyframe)."""
    decoder = open_video_decoder(info.codec)
    if info.extradata:
        decoder.extradata = info.extradata
    frames = list(decoder.decode(av.Packet(packet.data)))
    frames += list(decoder.decode(None))
    if not frames:
        raise ValueError(f"keyframe of camera {info.camera_id} did not decode")
    return frames[0]


def render_jpeg(info: StreamInfo, packet: MediaPacket, width: int | None = None) -> Snapshot:
    """Decode the keyframe ``packet`` and encode it as JPEG, scaled to ``width`` pixels (height kept even); raises ``ValueError`` if it does not decode or encode."""
    frame = decode_keyframe(info, packet)
    if width is not None and width != frame.width:
        height = max(2, round(frame.height * width / frame.width / 2) * 2)
        frame = frame.reformat(width=width, height=height, interpolation="AREA")
    ok, encoded = cv2.imencode(".jpg", frame.to_ndarray(format="bgr24"), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return Snapshot(encoded.tobytes(), frame.width, frame.height, packet.wall_time)


class SnapshotCache:
    """Rendered snapshots by (camera, stream, width), reused for ``max_age`` seconds."""

    def __init__(self, max_age: float = 1.0) -> None:
        self.max_age = max_age
        self._items: dict[tuple[str, str, int | None], tuple[float, Snapshot]] = {}
        self._lock = threading.Lock()
        self.renders = 0

    def get(self, info: StreamInfo, packet: MediaPacket, width: int | None) -> Snapshot:
        key = (info.camera_id, info.stream, width)
        now = time.monotonic()
        with self._lock:
            cached = self._items.get(key)
            if cached is not None and now - cached[0] <= self.max_age:
                return cached[1]
            # Drop what is stale so the cache never grows with widths nobody asks for anymore.
            self._items = {k: v for k, v in self._items.items() if now - v[0] <= self.max_age}
        snapshot = render_jpeg(info, packet, width)
        with self._lock:
            self.renders += 1
            self._items[key] = (now, snapshot)
        return snapshot
