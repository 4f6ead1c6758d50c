"""H.265 RTP payload (RFC 7798) without DONL: single NAL units, aggregation packets, FUs."""

from __future__ import annotations

from streams.rtsp.payload import START_CODE, DepacketizeError, Depacketizer

AP, FU = 48, 49
IRAP_FIRST, IRAP_LAST = 16, 23  # BLA, IDR, CRA and reserved IRAP types: decodable from here


class H265Depacketizer(Depacketizer):
    """Appends the NAL units of one RTP payload (``packet[start:end]``) to ``self.parts``."""

    def push(self, packet: bytes, start: int, end: int) -> None:
        if end - start < 3:
            raise DepacketizeError("H.265 payload too short")
        kind = (packet[start] >> 1) & 0x3F
        parts = self.parts
        if kind == FU:
            fu = packet[start + 2]
            if fu & 0x80:
                original = fu & 0x3F
                parts.append(START_CODE)
                parts.append(bytes(((packet[start] & 0x81) | (original << 1), packet[start + 1])))
                self.in_fragment = True
                if IRAP_FIRST <= original <= IRAP_LAST:
                    self.keyframe = True
            elif not self.in_fragment:
                self.damaged = True
            parts.append(packet[start + 3:end])
            if fu & 0x40:
                self.in_fragment = False
        elif kind < AP:
            parts.append(START_CODE)
            parts.append(packet[start:end])
            if IRAP_FIRST <= kind <= IRAP_LAST:
                self.keyframe = True
        elif kind == AP:
            pos = start + 2
            while pos + 2 < end:
                size = (packet[pos] << 8) | packet[pos + 1]
                pos += 2
                if size < 2 or pos + size > end:
                    raise DepacketizeError("H.265 aggregation unit overruns its packet")
                parts.append(START_CODE)
                parts.append(packet[pos:pos + size])
                if IRAP_FIRST <= (packet[pos] >> 1) & 0x3F <= IRAP_LAST:
                    self.keyframe = True
                pos += size
        else:
            raise DepacketizeError(f"H.265 packetization type {kind} is not supported")
