"""The current group of pictures of one stream: what a new viewer needs to show a picture at once.

Every item the relay receives gets a sequence number; the cache keeps the numbered packets
from the last keyframe on, so a viewer started from the cache continues with exactly the
live packets numbered after it: no gap, no repeat.
"""

from __future__ import annotations

from streams.packets import MediaPacket, StreamInfo


class GopCache:
    """Not thread-safe: its owner (the relay) serialises access."""

    def __init__(self, max_packets: int = 600) -> None:
        self.max_packets = max_packets
        self.info: StreamInfo | None = None
        self._packets: list[tuple[int, MediaPacket]] = []
        self._overflowed = False
        # The newest keyframe ever seen, kept across stream ends for snapshots of offline cameras.
        self.latest_keyframe: tuple[StreamInfo, MediaPacket] | None = None

    def start(self, info: StreamInfo) -> None:
        """A new ingest session: nothing cached belongs to it."""
        self.info = info
        self._packets = []
        self._overflowed = False

    def end(self) -> None:
        """The session ended: a viewer joining now must not be shown stale pictures as live."""
        self.info = None
        self._packets = []

    def add(self, seq: int, packet: MediaPacket) -> None:
        if self.info is None or packet.session != self.info.session:
            return
        if packet.keyframe:
            self._packets = [(seq, packet)]
            self._overflowed = False
            self.latest_keyframe = (self.info, packet)
        elif self._packets and not self._overflowed:
            if len(self._packets) >= self.max_packets:
                # A GOP this long is not worth the memory; viewers wait for the next keyframe.
                self._packets = []
                self._overflowed = True
            else:
                self._packets.append((seq, packet))

    def packets(self) -> list[MediaPacket]:
        """The cached packets, keyframe first (empty when no usable GOP is cached)."""
        return [packet for _, packet in self._packets]

    def __len__(self) -> int:
        return len(self._packets)

    @property
    def duration_seconds(self) -> float:
        if len(self._packets) < 2:
            return 0.0
        first, last = self._packets[0][1], self._packets[-1][1]
        return float((last.dts - first.dts) * last.time_base)
