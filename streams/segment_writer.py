"""Write one fragmented-MP4 segment from already-encoded packets (remux only, never encode).

``empty_moov`` puts the header first and ``frag_keyframe`` closes a fragment at every
keyframe (and ``frag_duration`` after a second without one), so a process killed at any moment leaves a file that plays up to its last
complete fragment. ``flush_packets`` hands every fragment to the kernel as it is made.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av

from streams.packets import MediaPacket, StreamInfo
from vms.recordings.fmp4 import FRAGMENTED_MP4
from vms.recordings.hvc1 import retag_hvc1

# A fragment also ends after FRAGMENT_SECONDS without a keyframe, so a long-GOP camera's
# segment reaches the disk every second instead of once per GOP (10-30 s on some cameras).
FRAGMENT_SECONDS = 1.0
RECORDING_MP4 = {**FRAGMENTED_MP4, "frag_duration": str(int(FRAGMENT_SECONDS * 1_000_000))}


class SegmentWriter:
    def __init__(self, path: Path, info: StreamInfo) -> None:
        self.path = path
        self.info = info
        path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(path), "w", format="mp4", options=RECORDING_MP4)
        # No codec context: parameter sets come in-band with the first keyframe (ingest
        # repeats them there), and the muxer builds avcC/hvcC from them.
        self._stream = self._container.add_mux_stream(
            info.codec, width=info.width, height=info.height, time_base=info.time_base
        )
        # HEVC must be tagged hvc1 for Safari and QuickTime; done on the header once written.
        self._needs_hvc1 = info.codec == "hevc"
        self._base_dts: int | None = None
        self._first_pts: int | None = None
        self._end_pts: int | None = None  # pts just past the latest frame
        self._frame_ticks = self._default_frame_ticks(info)
        self._last_dts: int | None = None
        self.frames = 0
        self.keyframes = 0
        self.closed = False

    @staticmethod
    def _default_frame_ticks(info: StreamInfo) -> int:
        fps = info.fps if info.fps and 1 <= info.fps <= 240 else 25.0
        return max(1, round(1 / (fps * info.time_base)))

    def write(self, packet: MediaPacket) -> None:
        if self._base_dts is None:
            if not packet.keyframe:
                raise ValueError("a segment must start with a keyframe")
            self._base_dts = packet.dts
        if self._last_dts is not None and packet.dts > self._last_dts:
            self._frame_ticks = packet.dts - self._last_dts
        self._last_dts = packet.dts
        out = av.Packet(packet.data)
        out.pts = packet.pts - self._base_dts
        out.dts = packet.dts - self._base_dts
        out.duration = self._frame_ticks
        out.time_base = packet.time_base
        out.is_keyframe = packet.keyframe
        out.stream = self._stream
        self._container.mux(out)
        if self._needs_hvc1:
            # The header (moov) goes to disk with the first packet (flush_packets); should it
            # come later, try again at the next packet.
            self._needs_hvc1 = retag_hvc1(self.path) is None
        self.frames += 1
        self.keyframes += packet.keyframe
        self._first_pts = packet.pts if self._first_pts is None else min(self._first_pts, packet.pts)
        end = packet.pts + self._frame_ticks
        self._end_pts = end if self._end_pts is None else max(self._end_pts, end)

    @property
    def media_seconds(self) -> float:
        """Presentation time covered by the packets written so far."""
        if self._first_pts is None or self._end_pts is None:
            return 0.0
        return float((self._end_pts - self._first_pts) * Fraction(self.info.time_base))

    def close(self) -> int:
        """Finish the file and return its size in bytes."""
        if not self.closed:
            self.closed = True
            self._container.close()
        return self.path.stat().st_size if self.path.exists() else 0
