"""Notice when a camera changes its parameter sets (resolution, profile) inside one session.

The SDP and the first keyframe tell the picture size once; a camera reconfigured while we are
connected (a technician changes the resolution, an encoder restarts) sends new SPS/PPS
in-band at its next keyframe. The recorder must start a new segment there (one file holds one
set of parameters) and the status must carry the real size, so each keyframe's parameter
sets are compared with the previous ones. On a change the keyframe is decoded once to read
its size: that costs one picture's decode per change, against a bit-level SPS parser for two
codecs (cropping, VUI, H.265 profile-tier-level) that would be ours to maintain.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import av

log = logging.getLogger(__name__)

_START_CODE = re.compile(b"\x00\x00\x00\x01|\x00\x00\x01")
_FOUR_BYTE_START = b"\x00\x00\x00\x01"
# VPS, SPS, PPS of H.265; SPS, PPS of H.264.
_PARAMETER_SET_TYPES = {"h264": {7, 8}, "hevc": {32, 33, 34}}


def parameter_sets(data: bytes, codec: str) -> bytes:
    """The parameter-set NAL units of an Annex B access unit, concatenated in Annex B."""
    wanted = _PARAMETER_SET_TYPES.get(codec, set())
    starts = [(m.start(), m.end()) for m in _START_CODE.finditer(data)]
    found = []
    for i, (_start, header) in enumerate(starts):
        if header >= len(data):
            continue
        byte = data[header]
        kind = byte & 0x1F if codec == "h264" else (byte >> 1) & 0x3F
        if kind in wanted:
            end = starts[i + 1][0] if i + 1 < len(starts) else len(data)
            found.append(b"\x00\x00\x00\x01" + data[header:end].rstrip(b"\x00"))
    return b"".join(found)


def picture_size(codec: str, keyframe: bytes) -> tuple[int, int] | None:
    """Width and height of a keyframe that carries its parameter sets, or None if undecodable."""
    try:
        context: Any = av.CodecContext.create(codec, "r")  # a video decoder (PyAV types it as the base)
        frames = context.decode(av.Packet(keyframe)) + context.decode(None)
    except (av.FFmpegError, ValueError):
        return None
    return (frames[0].width, frames[0].height) if frames else None


def describe_keyframe(codec: str, keyframe: bytes) -> tuple[int, int, bool] | None:
    """(width, height, reorders) of a keyframe that carries its parameter sets, or None.

    ``reorders``: the parameter sets allow B-frames (frames out of presentation order), as the
    decoder reads it from the SPS (H.264 VUI ``max_num_reorder_frames``, H.265
    ``sps_max_num_reorder_pics``). Costs one picture's decode.
    """
    try:
        context: Any = av.CodecContext.create(codec, "r")
        frames = context.decode(av.Packet(keyframe)) + context.decode(None)
    except (av.FFmpegError, ValueError):
        return None
    return (frames[0].width, frames[0].height, bool(context.has_b_frames)) if frames else None


class ParameterSetWatch:
    """Compares each keyframe's parameter sets with the previous keyframe's."""

    def __init__(self, codec: str) -> None:
        self.codec = codec
        self._current: bytes | None = None

    def changed(self, keyframe: bytes) -> bytes | None:
        """The new parameter sets when they differ from the last keyframe's, else None."""
        # Unique units in a fixed order (VPS, SPS, PPS; first seen first within a type):
        # encoders and payloaders may repeat SPS/PPS within one keyframe (x264's headers plus
        # the payloader's), a keyframe given the SDP's sets (its own were lost before we joined)
        # holds each once, and a session that joins a shared GStreamer mount while its pipeline
        # starts gets a first keyframe whose leading AUD and SPS were never sent, so its PPS
        # comes before its SPS (decision 135). None of these is a change.
        found = dict.fromkeys(unit for unit in parameter_sets(keyframe, self.codec).split(_FOUR_BYTE_START) if unit)
        sets = b"".join(_FOUR_BYTE_START + unit for unit in sorted(found, key=self._kind))
        if not sets:
            return None  # this keyframe repeats none: nothing to compare
        previous, self._current = self._current, sets
        return sets if previous is not None and sets != previous else None

    def _kind(self, unit: bytes) -> int:
        """The NAL unit type of ``unit`` (its header first, no start code)."""
        return unit[0] & 0x1F if self.codec == "h264" else (unit[0] >> 1) & 0x3F
