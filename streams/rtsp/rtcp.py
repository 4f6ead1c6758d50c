"""RTCP for a receive-only RTSP client (RFC 3550 section 6): receiver reports, their timing, BYE.

Cameras (and RFC 2326 / RFC 3550 section 6.2) expect a receiver to send reports; some end a
session that sends none for its timeout even over interleaved TCP. Each report is a compound
packet: RR with one report block for the camera's video source, then SDES with our CNAME
(section 6.1: every compound packet carries one). The CNAME is 96 random bits, new per session
(RFC 7022 section 4.2): it identifies nothing about this machine.

The interleaved jitter field is sent as 0: paced reads (streams.rtsp.connection) take many
packets at once, so their arrival times measure our read pacing, not the network, and a value
computed from them would mislead the camera more than none.
"""

from __future__ import annotations

import base64
import os
import random
from dataclasses import dataclass
from struct import Struct

SR, RR, SDES, BYE = 200, 201, 202, 203
CNAME = 1  # SDES item type
MIN_INTERVAL = 5.0  # seconds, RFC 3550 6.2's recommended fixed minimum (T_min)
COMPENSATION = 2.71828 - 1.5  # e - 3/2, RFC 3550 6.3.1: offsets the timer reconsideration's bias

_COMMON = Struct("!BBH")  # V/P/count, packet type, length in 32-bit words minus one
_SENDER_INFO = Struct("!IIIII")  # SSRC, NTP seconds, NTP fraction, RTP timestamp, packet count (6.4.1)
_REPORT_BLOCK = Struct("!IIIIII")  # SSRC, fraction+cumulative lost, ext. highest seq, jitter, LSR, DLSR


@dataclass(frozen=True)
class Reception:
    """What the RTP side received of one source: ``base_seq`` is its first sequence number,
    ``received`` packets taken in, ``lost`` the ones missing from the sequence (RFC 3550 A.3)."""

    ssrc: int
    base_seq: int
    received: int
    lost: int


def report_interval(first: bool) -> float:
    """Seconds until the next report (RFC 3550 6.3.1 and 6.2, one receiver, one sender).

    The bandwidth share of a receiver of a video stream makes the computed interval far
    below T_min, so T_min decides: 5 s (2.5 s before the first report), randomised over
    [0.5, 1.5] of it so that receivers do not synchronise, divided by e - 3/2.
    """
    minimum = MIN_INTERVAL / 2 if first else MIN_INTERVAL
    return minimum * random.uniform(0.5, 1.5) / COMPENSATION


class ReceiverReports:
    """Receiver reports of one session; ``ssrc`` is ours (random), ``cname`` our SDES CNAME.

    ``sender_report`` takes each RTCP packet the camera sends (for LSR/DLSR); ``report``
    builds the compound packet to send at ``now`` (monotonic seconds).
    """

    def __init__(self, ssrc: int | None = None, cname: str | None = None) -> None:
        self.ssrc = random.getrandbits(32) if ssrc is None else ssrc
        self.cname = cname or base64.b64encode(os.urandom(12)).decode("ascii")
        self.sent = 0
        self._last_sr: dict[int, tuple[int, float]] = {}  # sender SSRC -> (LSR, monotonic time received)
        self._prior_expected = 0
        self._prior_received = 0

    def sender_report(self, compound: bytes, now: float) -> None:
        """Note the sender reports in one RTCP compound packet from the camera. Malformed
        packets are ignored: RTCP is advisory, and the video goes on without it."""
        pos = 0
        while pos + 4 <= len(compound):
            flags, kind, words = _COMMON.unpack_from(compound, pos)
            end = pos + 4 * (words + 1)
            if flags >> 6 != 2 or end > len(compound):
                return
            if kind == SR and end - pos >= 4 + _SENDER_INFO.size:
                ssrc, ntp_seconds, ntp_fraction, _, _ = _SENDER_INFO.unpack_from(compound, pos + 4)
                self._last_sr[ssrc] = (((ntp_seconds & 0xFFFF) << 16) | (ntp_fraction >> 16), now)
            pos = end

    def report(self, reception: Reception | None, now: float) -> bytes:
        """RR (with a block for ``reception``'s source once a packet came) + SDES CNAME."""
        self.sent += 1
        return self._receiver_report(reception, now) + self._sdes()

    def goodbye(self, reception: Reception | None, now: float) -> bytes:
        """The last report, with BYE (RFC 3550 6.6): sent when the client leaves."""
        return self.report(reception, now) + _COMMON.pack(0x81, BYE, 1) + self.ssrc.to_bytes(4, "big")

    # -- internals ------------------------------------------------------------------------

    def _receiver_report(self, reception: Reception | None, now: float) -> bytes:
        if reception is None or reception.received == 0:
            return _COMMON.pack(0x80, RR, 1) + self.ssrc.to_bytes(4, "big")
        expected = reception.received + reception.lost
        expected_interval = expected - self._prior_expected
        lost_interval = expected_interval - (reception.received - self._prior_received)
        self._prior_expected, self._prior_received = expected, reception.received
        fraction = (lost_interval << 8) // expected_interval if expected_interval > 0 and lost_interval > 0 else 0
        cumulative = min(reception.lost, 0x7FFFFF)  # 24-bit signed field: clamp, never wrap negative
        highest = (reception.base_seq + expected - 1) & 0xFFFFFFFF
        lsr, dlsr = 0, 0
        if reception.ssrc in self._last_sr:
            lsr, received_at = self._last_sr[reception.ssrc]
            dlsr = min(int((now - received_at) * 65536), 0xFFFFFFFF)
        block = _REPORT_BLOCK.pack(reception.ssrc, (min(fraction, 255) << 24) | cumulative, highest, 0, lsr, dlsr)
        return _COMMON.pack(0x81, RR, 7) + self.ssrc.to_bytes(4, "big") + block

    def _sdes(self) -> bytes:
        name = self.cname.encode("utf-8")[:255]
        chunk = self.ssrc.to_bytes(4, "big") + bytes([CNAME, len(name)]) + name + b"\x00"  # item list ends with 0
        chunk += b"\x00" * (-len(chunk) % 4)  # chunks end on a 32-bit boundary
        return _COMMON.pack(0x81, SDES, len(chunk) // 4) + chunk
