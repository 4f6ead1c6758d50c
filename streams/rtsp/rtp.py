"""RTP packets (RFC 3550) of one video track joined into access units with 64-bit timestamps.

An access unit ends at the RTP marker bit, or when the timestamp changes (a lost marker). A gap
in sequence numbers damages the unit it falls into: that unit is dropped and counted, never
handed on half-built (a recorded half picture is a corrupt frame). So does a unit cut short
without a gap: once the sender has shown that it marks the end of its units, a unit that the
next timestamp ends before its marker was cut (a stream spliced or restarted mid-picture: its
parameter sets without their picture, some slices of a picture). Senders that never set the
marker end every unit at the next timestamp, as before.
"""

from __future__ import annotations

from struct import Struct
from typing import Callable

from streams.access_units import holds_picture
from streams.rtsp.h264 import H264Depacketizer
from streams.rtsp.h265 import H265Depacketizer
from streams.rtsp.payload import DepacketizeError, Depacketizer
from streams.rtsp.rtcp import Reception

_HEADER = Struct("!BBHI")  # V/P/X/CC, M/PT, sequence number, timestamp
_DEPACKETIZERS: dict[str, type[Depacketizer]] = {"h264": H264Depacketizer, "hevc": H265Depacketizer}

# (Annex B access unit, timestamp in clock-rate ticks from the session's first packet, keyframe,
# arrival: UTC epoch seconds). Empty data: a picture was lost there (a damaged unit dropped), so
# what depends on it up to the next keyframe cannot decode.
UnitSink = Callable[[bytes, int, bool, float], None]


def depacketizer(codec: str) -> Depacketizer:
    """The depacketizer of an FFmpeg codec name (``h264``, ``hevc``). Raises KeyError for others."""
    return _DEPACKETIZERS[codec]()


class AccessUnitAssembler:
    """Feeds RTP packets of one payload type to a depacketizer and hands whole units to ``sink``.

    Units completed by one read are handed over at ``read_done``, each with its arrival time:
    a paced read takes everything that arrived since the previous one, so the units of one
    read are spread evenly over the window they can have arrived in (never before the
    previous read, never more than one read interval back), instead of all sharing the read's
    time, which the time model would take for a burst. A dropped unit that held a picture is
    handed over as empty data (see ``UnitSink``). Counters: ``packets`` (taken in, in
    sequence), ``lost_packets`` (sequence gaps), ``dropped_units`` (damaged); ``reception()``
    gives them to RTCP receiver reports.
    """

    def __init__(self, codec: str, payload_type: int, sink: UnitSink) -> None:
        self._payload = depacketizer(codec)
        self._codec = codec
        self._payload_type = payload_type
        self._sink = sink
        self._next_seq = -1
        self._first_seq = 0
        self._ssrc = 0
        self._first_ts = -1
        self._last_ts = 0  # 32-bit RTP timestamp of the unit being built
        self._extended = 0  # its 64-bit value since the first packet
        self._damaged = False
        self._marks_ends = False  # the sender sets the marker bit at the end of a unit
        self._completed: list[tuple[bytes, int, bool]] = []
        self._read_at = 0.0
        self.packets = self.lost_packets = self.dropped_units = 0

    def push(self, packet: bytes) -> None:
        """One RTP packet. Raises DepacketizeError on a payload this client cannot take apart."""
        if len(packet) < 12:
            raise DepacketizeError("RTP packet shorter than its header")
        flags, marker_type, seq, ts = _HEADER.unpack_from(packet)
        if flags >> 6 != 2 or marker_type & 0x7F != self._payload_type:
            return  # not RTP version 2, or another track's payload type on this channel
        if self._first_ts < 0:
            self._first_ts, self._last_ts, self._next_seq, self._first_seq = ts, ts, seq, seq
            self._ssrc = int.from_bytes(packet[8:12], "big")
        lost = seq != self._next_seq
        if lost:
            gap = (seq - self._next_seq) & 0xFFFF
            if gap > 0x8000:
                return  # late or duplicated packet (TCP never reorders; a restarted sender might)
            self.lost_packets += gap
            self._damaged = True
        self._next_seq = (seq + 1) & 0xFFFF
        self.packets += 1
        start = 12 + 4 * (flags & 0x0F)
        if flags & 0x10:  # header extension: 16-bit profile, 16-bit length in 32-bit words
            start += 4 + 4 * ((packet[start + 2] << 8) | packet[start + 3])
        end = len(packet) - (packet[-1] if flags & 0x20 else 0)
        if start >= end:
            # Padding only, or a keep-alive packet with no payload: it still takes a sequence
            # number (counted above), so the next packet is not taken for a loss.
            return
        if ts != self._last_ts:
            if not self._payload.empty:
                # The previous unit's marker never came: lost, or the unit was cut short.
                self._damaged = self._damaged or self._marks_ends
                self._emit()
                # The lost packets may have been this unit's beginning as well as the last one's end.
                self._damaged = lost
            step = (ts - self._last_ts) & 0xFFFFFFFF
            self._extended += step - 0x100000000 if step >= 0x80000000 else step
            self._last_ts = ts
        self._payload.push(packet, start, end)
        if marker_type & 0x80:
            self._marks_ends = True
            self._emit()

    def _emit(self) -> None:
        data, keyframe, damaged = self._payload.take()
        if damaged or self._damaged:
            self.dropped_units += 1
            # A picture lost is reported (as empty data); a unit cut short before its picture
            # (parameter sets, SEI) loses nothing the next keyframe does not bring again.
            if holds_picture(data, self._codec):
                self._completed.append((b"", self._extended, False))
        else:
            self._completed.append((data, self._extended, keyframe))
        self._damaged = False

    def reception(self) -> Reception | None:
        """What RTCP reports of this source: None before its first packet."""
        if self._first_ts < 0:
            return None
        return Reception(self._ssrc, self._first_seq, self.packets, self.lost_packets)

    def read_done(self, now: float, interval: float) -> None:
        """Hand the units completed by the read at ``now`` (UTC epoch s) to the sink.

        ``interval``: seconds between paced reads (0: unpaced, every unit gets ``now``).
        """
        completed, self._completed = self._completed, []
        since = max(self._read_at, now - interval)
        self._read_at = now
        count = len(completed)
        for i, (data, pts, keyframe) in enumerate(completed, 1):
            self._sink(data, pts, keyframe, since + (now - since) * i / count)
