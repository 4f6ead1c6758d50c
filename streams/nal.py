"""Just enough H.264/H.265 Annex B parsing to tell which NAL unit types a packet holds."""

from __future__ import annotations

import re

_START_CODE = re.compile(b"\x00\x00\x01")

# Parameter-set NAL unit types a decoder needs before the first keyframe.
_PARAMETER_SETS = {"h264": {7, 8}, "hevc": {32, 33, 34}}


def nal_types(data: bytes, codec: str) -> list[int]:
    """NAL unit types in an Annex B buffer, in order."""
    types = []
    for match in _START_CODE.finditer(data):
        header = match.end()
        if header < len(data):
            byte = data[header]
            types.append(byte & 0x1F if codec == "h264" else (byte >> 1) & 0x3F)
    return types


def has_parameter_sets(data: bytes, codec: str) -> bool:
    """True when the buffer carries the SPS (and for H.265 the VPS) a decoder starts from."""
    wanted = _PARAMETER_SETS.get(codec)
    if wanted is None:
        return True
    present = set(nal_types(data, codec))
    sps = 7 if codec == "h264" else 33
    return sps in present


def is_annex_b(data: bytes) -> bool:
    """Whether ``data`` starts with an Annex B start code (00 00 01 or 00 00 00 01) rather than a length prefix."""
    return data.startswith(b"\x00\x00\x01") or data.startswith(b"\x00\x00\x00\x01")


# Pictures a decoder can start from: H.264 IDR (5); H.265 IRAP (BLA, IDR, CRA: 16-23).
_RANDOM_ACCESS = {"h264": range(5, 6), "hevc": range(16, 24)}


def is_random_access(data: bytes, codec: str) -> bool:
    """True when an Annex B access unit holds an IDR (H.265: IRAP) picture, i.e. a keyframe.

    FFmpeg's parser sets the keyframe flag; without the parser (streams.ingest opens B-frame
    streams so, see streams.access_units) the flag is ours to set.
    """
    wanted = _RANDOM_ACCESS.get(codec)
    return wanted is not None and any(kind in wanted for kind in nal_types(data, codec))
