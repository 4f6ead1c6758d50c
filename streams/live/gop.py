"""The current group of pictures of one stream: what a new viewer needs to show a picture at once.

Every item the relay receives gets a sequence number; the cache keeps the numbered packets
from the last keyframe on, so a viewer started from the cache continues with exactly the
live packets numbered after it: no gap, no repeat.

The cache is bounded by time (and bytes), not by a packet count: a camera with a 30 s GOP at
25 fps sends 750 packets per GOP, and its first viewer needs all of them to see a picture now.
"""

from __future__ import annotations

from streams.packets import MediaPacket, StreamInfo


class GopCache:
    """Not thread-safe: its owner (the relay) serialises access.

    ``max_seconds``: a GOP longer than this (by the camera's decode timestamps) is dropped and
    viewers wait for the next keyframe; ``max_bytes`` bounds the memory the same way.
    """

    def __init__(self, max_seconds: float = 35.0, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_seconds = max_seconds
        self.max_bytes = max_bytes
        self.info: StreamInfo | None = None
        self._packets: list[tuple[int, MediaPacket]] = []
        self._bytes = 0
        self._overflowed = False

    def start(self, info: StreamInfo) -> None:
        """A new ingest session: nothing cached belongs to it."""
        self.info = info
        self._clear()

    def end(self) -> None:
        """The session ended: a viewer joining now must not be shown stale pictures as live."""
        self.info = None
        self._clear()

    def _clear(self, overflowed: bool = False) -> None:
        self._packets = []
        self._bytes = 0
        self._overflowed = overflowed

    def add(self, seq: int, packet: MediaPacket) -> None:
        if self.info is None or packet.session != self.info.session:
            return
        if packet.keyframe:
            self._packets = [(seq, packet)]
            self._bytes = len(packet.data)
            self._overflowed = False
        elif self._packets and not self._overflowed:
            first = self._packets[0][1]
            too_long = float((packet.dts - first.dts) * packet.time_base) > self.max_seconds
            if too_long or self._bytes + len(packet.data) > self.max_bytes:
                # Not worth the memory; viewers wait for the next keyframe.
                self._clear(overflowed=True)
            else:
                self._packets.append((seq, packet))
                self._bytes += len(packet.data)

    def packets(self) -> list[MediaPacket]:
        """The cached packets, keyframe first (empty when no usable GOP is cached)."""
        return [packet for _, packet in self._packets]

    def __len__(self) -> int:
        return len(self._packets)

    @property
    def bytes(self) -> int:
        return self._bytes

    @property
    def duration_seconds(self) -> float:
        if len(self._packets) < 2:
            return 0.0
        first, last = self._packets[0][1], self._packets[-1][1]
        return float((last.dts - first.dts) * last.time_base)
