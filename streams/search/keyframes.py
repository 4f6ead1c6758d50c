"""Motion in a region, measured on the keyframes of recorded segments only.

Only keyframes are decoded (the decoder skips every other picture: ``skip_frame = NONKEY``); the
luma plane of each (a grey picture already) is scaled down in C (OpenCV, area averaging), and
the region of two consecutive keyframes is compared: the score is the share of the region's
pixels whose brightness changed by more than ``PIXEL_THRESHOLD``. With a keyframe a second, an hour is 3,600 small decodes.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator, cast

import av
import cv2
import numpy as np

log = logging.getLogger(__name__)

# Analysis picture width (height follows the aspect ratio): enough for a car in a tunnel lane.
ANALYSIS_WIDTH = 160
# Brightness change (0..255) of one pixel that counts as a change, above compression noise.
PIXEL_THRESHOLD = 25


class KeyframeMotion:
    """Scores motion in ``region`` between consecutive keyframes, across segment files.

    ``region``: (x, y, w, h) as fractions of the picture (0..1). Feed segments in time order;
    the first keyframe of a segment is compared with the last of the one before.
    """

    def __init__(self, region: tuple[float, float, float, float]) -> None:
        self.region = region
        self._previous: np.ndarray | None = None
        self._previous_time: datetime | None = None
        self._mask_slices: tuple[slice, slice] | None = None

    def forget(self) -> None:
        """Forget the last keyframe (after a gap the next one has nothing to be compared with)."""
        self._previous = None

    def segment(self, path: Path, segment_start: datetime) -> Iterator[tuple[datetime, float]]:
        """(wall time of a keyframe, share of the region that changed since the previous one)."""
        try:
            container = av.open(str(path))
        except (av.error.FFmpegError, OSError) as exc:
            log.warning("motion search skips %s: %s", path, exc)
            return
        with container:
            stream = container.streams.video[0]
            stream.codec_context.skip_frame = "NONKEY"
            time_base = stream.time_base
            first_pts = None
            try:
                for packet in container.demux(stream):
                    if packet.pts is None:
                        continue
                    if first_pts is None:
                        first_pts = packet.pts
                    if not packet.is_keyframe:
                        continue
                    for frame in packet.decode():
                        if frame.pts is None or time_base is None:
                            continue
                        wall = segment_start + timedelta(seconds=float((frame.pts - first_pts) * time_base))
                        score = self._score(frame)
                        if score is not None:
                            yield wall, score
            except av.error.FFmpegError as exc:  # a segment still being written ends mid-fragment
                log.debug("reading %s stopped: %s", path, exc)

    def _score(self, frame: av.VideoFrame) -> float | None:
        height = max(1, round(ANALYSIS_WIDTH * frame.height / frame.width))
        # H.264 pictures are YUV: the luma plane is the grey picture already, no conversion needed.
        plane = frame.planes[0]
        # The plane is a buffer: viewed, not copied.
        luma = np.frombuffer(cast(bytes, plane), np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]
        grey = cv2.resize(luma, (ANALYSIS_WIDTH, height), interpolation=cv2.INTER_AREA)
        if self._mask_slices is None:
            x, y, w, h = self.region
            self._mask_slices = (slice(int(y * height), max(int(y * height) + 1, round((y + h) * height))),
                                 slice(int(x * ANALYSIS_WIDTH), max(int(x * ANALYSIS_WIDTH) + 1,
                                                                   round((x + w) * ANALYSIS_WIDTH))))
        area = cv2.GaussianBlur(grey[self._mask_slices], (3, 3), 0)
        previous, self._previous = self._previous, area
        if previous is None or previous.shape != area.shape:
            return None
        changed = cv2.absdiff(area, previous) > PIXEL_THRESHOLD
        return float(np.count_nonzero(changed)) / changed.size
