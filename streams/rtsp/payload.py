"""What the H.264 and H.265 depacketizers share: the access unit being built."""

from __future__ import annotations

from abc import ABC, abstractmethod

START_CODE = b"\x00\x00\x00\x01"


class DepacketizeError(Exception):
    """A payload this client cannot take apart (malformed, or a packetization we do not speak)."""


class Depacketizer(ABC):
    """Collects the Annex B pieces of one access unit across its RTP packets.

    ``parts`` alternates start codes and NAL unit bytes; ``keyframe`` is set by a random-access
    NAL unit; ``damaged`` by a fragment whose beginning was lost.
    """

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.keyframe = False
        self.damaged = False
        self.in_fragment = False

    @abstractmethod
    def push(self, packet: bytes, start: int, end: int) -> None:
        """Add the payload ``packet[start:end]``. Raises DepacketizeError."""

    def take(self) -> tuple[bytes, bool, bool]:
        """(Annex B access unit, keyframe, damaged), and start the next unit empty."""
        unit = (b"".join(self.parts), self.keyframe, self.damaged or self.in_fragment)
        self.parts = []
        self.keyframe = self.damaged = self.in_fragment = False
        return unit

    @property
    def empty(self) -> bool:
        return not self.parts

