"""Join demuxed packets into access units (one picture each) and notice pictures FFmpeg left
without timestamps.

RTSP demuxing can hand one picture over as several packets with the same timestamps (e.g. one
per slice, with parameter sets before each); the recorder and browsers want one access unit per
frame, so consecutive packets with equal PTS and DTS are joined.

FFmpeg's RTSP demuxer sometimes hands over a whole picture with neither PTS nor DTS: seen with
RTP over TCP when several seconds of held-up packets arrive at once (a network stall, then a
burst), on a B-frame stream. Left out silently, that picture's dependants (the rest of its GOP)
no longer decode: the recorded file is corrupt, though every hash matches. So such a picture is
reported as ``LostPicture`` and ingest drops what depends on it, up to the next keyframe, as a
counted gap (streams.ingest). Packets without timestamps that hold no picture (parameter sets
before the first picture, FFmpeg's flush packet at the end) are not losses and are skipped.

The loss comes from FFmpeg's H.264/H.265 parser (its timestamp bookkeeping), so ingest opens
B-frame streams without it (``fflags=+noparse``): packets then come one per RTP packet, each
with its RTP timestamp, and are joined here by equal timestamps; the keyframe flag is read from
the NAL unit types. I/P-only streams keep the parser (several times fewer packets to handle
in Python); no loss was seen on them in the clock soak, and should one come, the lost-picture
path above still keeps every file decodable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Protocol

from streams.nal import is_annex_b, is_random_access, nal_types

# NAL unit types that carry picture data (VCL): H.264 1-5, H.265 0-31 (ITU-T H.264 table 7-1,
# H.265 table 7-1).
_PICTURE_NAL_TYPES = {"h264": range(1, 6), "hevc": range(0, 32)}


class DemuxedPacket(Protocol):
    """What ingest reads of a PyAV packet."""

    pts: int | None
    dts: int | None
    is_keyframe: bool

    def __bytes__(self) -> bytes: ...


@dataclass
class AccessUnit:
    """One picture: Annex B ``data``, ``pts``/``dts`` in the stream's time base."""

    data: bytes
    pts: int
    dts: int
    keyframe: bool


@dataclass(frozen=True)
class LostPicture:
    """A picture that came without timestamps (``size`` bytes): it cannot be placed in time."""

    size: int


def holds_picture(data: bytes, codec: str) -> bool:
    """Whether an Annex B buffer carries picture data (a VCL NAL unit) of ``codec``.

    Buffers that are not Annex B, or of a codec we do not parse, count as pictures: a loss
    reported in doubt costs the rest of a GOP, a loss missed costs a corrupt file.
    """
    wanted = _PICTURE_NAL_TYPES.get(codec)
    if wanted is None or not is_annex_b(data):
        return bool(data)
    return any(kind in wanted for kind in nal_types(data, codec))


def access_units(packets: Iterable[DemuxedPacket], codec: str) -> Iterator[AccessUnit | LostPicture]:
    """Access units in decode order, with a ``LostPicture`` where a picture had no timestamps."""
    pending: AccessUnit | None = None
    for packet in packets:
        if packet.dts is not None:
            dts = packet.dts
            pts = packet.pts if packet.pts is not None else dts
        elif packet.pts is not None:
            dts = pts = packet.pts
        else:
            data = bytes(packet)
            if holds_picture(data, codec):
                if pending is not None:
                    yield _flagged(pending, codec)
                    pending = None
                yield LostPicture(len(data))
            continue
        if pending is not None and pending.dts == dts and pending.pts == pts:
            pending.data += bytes(packet)
            pending.keyframe = pending.keyframe or packet.is_keyframe
            continue
        if pending is not None:
            yield _flagged(pending, codec)
        pending = AccessUnit(bytes(packet), pts, dts, packet.is_keyframe)
    # The stream ended under us: the last access unit may have been cut mid-picture, and a
    # recorded half picture is a corrupt frame. One frame is the cheaper loss.


def _flagged(unit: AccessUnit, codec: str) -> AccessUnit:
    """Without FFmpeg's parser no packet is flagged a keyframe: read it from the NAL types."""
    if not unit.keyframe:
        unit.keyframe = is_random_access(unit.data, codec)
    return unit
