"""Describe a built-in session's video as FFmpeg's demuxer would, from the SDP and first units.

FFmpeg probes a stream before handing it over; the built-in client looks at the first
``PROBE_UNITS`` access units from the first keyframe instead (0.3 s at 25 fps): the keyframe
gives the picture size and whether frames are reordered (B-frames), the timestamps the frame
rate when the SDP has no ``a=framerate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from statistics import median

from streams.errors import StreamUnusable
from streams.nal import has_parameter_sets
from streams.parameter_sets import describe_keyframe, parameter_sets
from streams.rtsp.sdp import VideoTrack

PROBE_UNITS = 8


@dataclass(frozen=True)
class Described:
    """What StreamInfo needs beyond the SDP: sizes in pixels, ``fps`` in frames per second."""

    width: int
    height: int
    reorders: bool
    fps: float | None
    time_base: Fraction
    extradata: bytes  # Annex B parameter sets: the SDP's, else the first keyframe's


def describe(track: VideoTrack, units: list[tuple[bytes, int]], where: str) -> Described:
    """``units``: (Annex B data, pts) from the first keyframe on, in arrival order.

    Raises StreamUnusable when the first keyframe cannot be decoded to a picture size.
    """
    keyframe = units[0][0]
    extradata = track.extradata or parameter_sets(keyframe, track.codec)
    found = describe_keyframe(track.codec, keyframe if has_parameter_sets(keyframe, track.codec) else extradata + keyframe)
    if found is None:
        raise StreamUnusable(f"camera at {where} sends video without a known picture size", "stream-no-size")
    width, height, reorders = found
    stamps = [pts for _, pts in units]
    reorders = reorders or any(later < earlier for earlier, later in zip(stamps, stamps[1:]))
    steps = [b - a for a, b in zip(sorted(stamps), sorted(stamps)[1:]) if b > a]
    fps = track.fps or (round(track.clock_rate / median(steps), 3) if steps else None)
    return Described(width, height, reorders, fps, Fraction(1, track.clock_rate), extradata)
