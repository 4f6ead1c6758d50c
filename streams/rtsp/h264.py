"""H.264 RTP payload (RFC 6184), non-interleaved mode: single NAL units, STAP-A and FU-A.

Each payload becomes Annex B pieces appended to a list; the access unit is joined once, so a
fragmented picture costs one copy of each fragment, not one per fragment and per join.
"""

from __future__ import annotations

from streams.rtsp.payload import START_CODE, DepacketizeError, Depacketizer

STAP_A, FU_A = 24, 28
IDR = 5


class H264Depacketizer(Depacketizer):
    """Appends the NAL units of one RTP payload (``packet[start:end]``) to ``self.parts``."""

    def push(self, packet: bytes, start: int, end: int) -> None:
        if end - start < 2:
            raise DepacketizeError("H.264 payload too short")
        header = packet[start]
        kind = header & 0x1F
        parts = self.parts
        if kind == FU_A:
            fu = packet[start + 1]
            if fu & 0x80:  # first fragment: rebuild the NAL header from FU indicator and header
                parts.append(START_CODE)
                parts.append(bytes(((header & 0xE0) | (fu & 0x1F),)))
                self.in_fragment = True
                if fu & 0x1F == IDR:
                    self.keyframe = True
            elif not self.in_fragment:
                self.damaged = True  # a fragment whose start we never saw
            parts.append(packet[start + 2:end])
            if fu & 0x40:
                self.in_fragment = False
        elif 0 < kind < STAP_A:
            parts.append(START_CODE)
            parts.append(packet[start:end])
            if kind == IDR:
                self.keyframe = True
        elif kind == STAP_A:
            pos = start + 1
            while pos + 2 < end:
                size = (packet[pos] << 8) | packet[pos + 1]
                pos += 2
                if size == 0 or pos + size > end:
                    raise DepacketizeError("STAP-A unit overruns its packet")
                parts.append(START_CODE)
                parts.append(packet[pos:pos + size])
                if packet[pos] & 0x1F == IDR:
                    self.keyframe = True
                pos += size
        else:
            raise DepacketizeError(f"H.264 packetization type {kind} is not supported")
