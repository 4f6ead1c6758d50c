"""A small JPEG of the keyframe at or before a moment of a recorded segment (timeline thumbnails,
the picture under the playhead while it is dragged). One keyframe decoded, nothing else."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import av
import cv2

JPEG_QUALITY = 70


def keyframe_jpeg(path: Path, segment_start: datetime, at: datetime, width: int = 320) -> bytes | None:
    """JPEG bytes ``width`` pixels wide, or None when the file holds no picture there."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = "NONKEY"
        first_pts = stream.start_time or 0
        time_base = stream.time_base
        if time_base is None:
            return None
        offset = max(0.0, (at - segment_start).total_seconds())
        try:
            container.seek(first_pts + int(offset / time_base), stream=stream, backward=True, any_frame=False)
        except av.error.FFmpegError:
            container.seek(first_pts, stream=stream, backward=True)
        try:
            frame = next(container.decode(stream), None)
        except av.error.FFmpegError:
            return None
        if frame is None:
            return None
        height = max(2, round(width * frame.height / frame.width / 2) * 2)
        picture = frame.to_ndarray(format="bgr24", width=width, height=height)
        ok, encoded = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        return encoded.tobytes() if ok else None
