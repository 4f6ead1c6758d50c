"""Fan one camera's packets out to many consumers without letting any of them slow ingest.

Each consumer gets a bounded queue. When a consumer falls behind, its newest packets are
dropped (and counted) and it is resynchronised at the next keyframe, because a decoder fed
packets after a hole shows garbage until then. Stream descriptions, ends and discontinuities
are never dropped.

A fan-out can keep a pre-roll ring (``keep_preroll``): the current session's items from the newest
keyframe at least N seconds old (so at least N seconds, at most N plus a GOP), bounded in bytes too. A warm-standby pipeline (no consumers
yet, vms.cluster.ownership) keeps one so that the recorder it gets on a takeover starts seconds
before the takeover (``subscribe(..., preroll=True)``); each packet keeps its ``wall_time``, so
the buffered picture lands exactly where it was captured.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from streams.packets import MediaPacket, StreamEnd, StreamInfo, StreamItem


@dataclass
class ConsumerStats:
    delivered: int = 0
    dropped: int = 0


class PacketQueue:
    """A bounded single-consumer queue fed by PacketFanout.

    ``wake_per_packet=False`` is for consumers that need no low latency (the recorder): the
    producer then does not wake the consumer for every packet, which would cost 25 thread
    switches a second per camera; the consumer collects what has arrived with ``drain()``.
    """

    def __init__(self, name: str, max_packets: int, wake_per_packet: bool = True) -> None:
        self.name = name
        self.max_packets = max_packets
        self.wake_per_packet = wake_per_packet
        self.stats = ConsumerStats()
        self._items: deque[StreamItem] = deque()
        self._packets = 0
        self._cond = threading.Condition()
        self._closed = False
        self._resync = False
        # Pre-roll packets put ahead of the bound (``prefill``), not yet consumed: they may exceed it.
        self._allowance = 0

    def put(self, item: StreamItem) -> None:
        with self._cond:
            if self._closed:
                return
            if isinstance(item, MediaPacket):
                if self._resync and not item.keyframe:
                    self.stats.dropped += 1
                    return
                if self._packets >= self.max_packets + self._allowance:
                    self.stats.dropped += 1
                    self._resync = True
                    return
                self._resync = False
                self._packets += 1
            elif isinstance(item, (StreamInfo, StreamEnd)):
                # A new session starts clean; its first packet is a keyframe anyway.
                self._resync = False
            self._items.append(item)
            if self.wake_per_packet or not isinstance(item, MediaPacket):
                self._cond.notify()

    def prefill(self, items: list[StreamItem]) -> None:
        """Queue ``items`` (a pre-roll) beyond the bound, so the live packets behind them are not dropped."""
        with self._cond:
            for item in items:
                self._items.append(item)
                if isinstance(item, MediaPacket):
                    self._packets += 1
                    self._allowance += 1
            self._cond.notify()

    def _consumed(self, packets: int) -> None:
        self._packets -= packets
        self._allowance = max(0, self._allowance - packets)
        self.stats.delivered += packets

    def join_at_next_keyframe(self) -> None:
        """Skip packets until a keyframe, so the consumer starts with something decodable."""
        with self._cond:
            self._resync = True

    def get(self, timeout: float | None = None) -> StreamItem | None:
        """Next item, or None on timeout or when the queue is closed and empty."""
        with self._cond:
            if not self._items and not self._closed:
                self._cond.wait(timeout)
            if not self._items:
                return None
            item = self._items.popleft()
            if isinstance(item, MediaPacket):
                self._consumed(1)
            return item

    def drain(self, wait: float) -> list[StreamItem]:
        """Everything queued, after waiting up to ``wait`` seconds for the first item."""
        with self._cond:
            if not self._items and not self._closed:
                self._cond.wait(wait)
            items = list(self._items)
            self._items.clear()
            self._consumed(sum(1 for item in items if isinstance(item, MediaPacket)))
            return items

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class PacketFanout:
    """Delivers every item published by one ingest session to all subscribed queues."""

    camera_id: str
    stream: str
    _queues: list[PacketQueue] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # Late subscribers need the current stream description before any packet.
    _current_info: StreamInfo | None = None
    # The newest keyframe ever published, kept across stream ends: a snapshot needs only this,
    # whatever the GOP length and whether anyone subscribed before it came.
    _latest_keyframe: tuple[StreamInfo, MediaPacket] | None = None
    # Whether the current session has sent a packet shown later than decoded (B-frames).
    _b_frames: bool = False
    # Seconds between the last two keyframes of the current session (None until two came).
    _keyframe_interval: float | None = None
    # The pre-roll ring (keep_preroll): whole GOPs of the current session, oldest first, each a
    # keyframe and what followed it; 0 seconds keeps none.
    _preroll_seconds: float = 0.0
    _preroll_max_bytes: int = 0
    _ring: deque[list[StreamItem]] = field(default_factory=deque)
    _ring_bytes: int = 0

    def subscribe(self, name: str, max_packets: int = 500, wake_per_packet: bool = True,
                  preroll: bool = False, preroll_since: float | None = None) -> PacketQueue:
        """A new consumer queue: the current stream description first, then the packets from the
        next keyframe on. With ``preroll`` the pre-roll ring's packets come first instead (from its
        oldest keyframe, or its oldest at or after ``preroll_since``, UTC epoch seconds), then the
        live ones: nothing twice, nothing missed."""
        queue = PacketQueue(name, max_packets, wake_per_packet)
        with self._lock:
            self._queues.append(queue)
            if self._current_info is not None:
                queue.put(self._current_info)
                gops = [gop for gop in self._ring if preroll_since is None or _gop_time(gop) >= preroll_since]
                if preroll and gops:
                    queue.prefill([item for gop in gops for item in gop])
                else:
                    queue.join_at_next_keyframe()
        return queue

    def keep_preroll(self, seconds: float, max_bytes: int = 0) -> None:
        """Keep the current session's items from the newest keyframe at least ``seconds`` old (or
        the oldest one, until the session is that long), at most ``max_bytes`` of packet data
        (0: no bound; older GOPs go first); 0 seconds drops the ring."""
        with self._lock:
            self._preroll_seconds = seconds
            self._preroll_max_bytes = max_bytes
            if seconds <= 0:
                self._clear_ring()

    def preroll(self) -> tuple[float, int, int]:
        """(seconds from the ring's oldest keyframe to its newest packet, packets, bytes) of the pre-roll ring."""
        with self._lock:
            if not self._ring:
                return 0.0, 0, 0
            packets = [item for gop in self._ring for item in gop if isinstance(item, MediaPacket)]
            return packets[-1].wall_time - packets[0].wall_time, len(packets), self._ring_bytes

    def _clear_ring(self) -> None:
        self._ring.clear()
        self._ring_bytes = 0

    def _keep(self, item: StreamItem) -> None:
        """Add ``item`` to the pre-roll ring (under the lock) and let go of what falls out of it."""
        if isinstance(item, MediaPacket):
            if item.keyframe:
                self._ring.append([item])
            elif self._ring:
                self._ring[-1].append(item)
            else:
                return  # nothing decodable before the first keyframe
            self._ring_bytes += len(item.data)
            # Drop the oldest GOP while the next one still starts within the window, or while
            # the ring is over its size (a single GOP over it is dropped too: no pre-roll then).
            while self._ring and (
                (len(self._ring) > 1 and _gop_time(self._ring[1]) <= item.wall_time - self._preroll_seconds)
                or (self._preroll_max_bytes and self._ring_bytes > self._preroll_max_bytes)
            ):
                gop = self._ring.popleft()
                self._ring_bytes -= sum(len(p.data) for p in gop if isinstance(p, MediaPacket))
        elif self._ring:
            self._ring[-1].append(item)  # a discontinuity inside the kept GOPs: the recorder needs it too

    def unsubscribe(self, queue: PacketQueue) -> None:
        with self._lock:
            if queue in self._queues:
                self._queues.remove(queue)
        queue.close()

    def publish(self, item: StreamItem) -> None:
        with self._lock:
            if isinstance(item, MediaPacket):
                if item.keyframe and self._current_info is not None:
                    previous = self._latest_keyframe
                    if previous is not None and previous[0] is self._current_info and item.pts > previous[1].pts:
                        self._keyframe_interval = float((item.pts - previous[1].pts) * item.time_base)
                    self._latest_keyframe = (self._current_info, item)
                if item.pts != item.dts:
                    self._b_frames = True
                if self._preroll_seconds > 0 and self._current_info is not None:
                    self._keep(item)
            elif isinstance(item, StreamInfo):
                self._current_info = item
                self._b_frames = False
                self._keyframe_interval = None
                self._clear_ring()  # a new session: the old one's packets belong to the old description
            elif isinstance(item, StreamEnd):
                self._current_info = None
                self._clear_ring()
            elif self._preroll_seconds > 0:
                self._keep(item)
            queues = list(self._queues)
        for queue in queues:
            queue.put(item)

    @property
    def current_info(self) -> StreamInfo | None:
        return self._current_info

    @property
    def latest_keyframe(self) -> tuple[StreamInfo, MediaPacket] | None:
        """(stream description, packet) of the newest keyframe seen, even of an ended session."""
        return self._latest_keyframe

    @property
    def keyframe_interval(self) -> float | None:
        """Seconds between the current session's last two keyframes (its GOP length), or None."""
        return self._keyframe_interval

    @property
    def b_frames(self) -> bool:
        """True once the current session sent a B-frame (a packet with pts != dts)."""
        return self._b_frames

    def consumers(self) -> list[PacketQueue]:
        with self._lock:
            return list(self._queues)


def _gop_time(gop: list[StreamItem]) -> float:
    """Wall time (UTC epoch seconds) of a ring GOP's keyframe."""
    first = gop[0]
    assert isinstance(first, MediaPacket)
    return first.wall_time
