"""Fan one camera's packets out to many consumers without letting any of them slow ingest.

Each consumer gets a bounded queue. When a consumer falls behind, its newest packets are
dropped (and counted) and it is resynchronised at the next keyframe, because a decoder fed
packets after a hole shows garbage until then. Stream descriptions, ends and discontinuities
are never dropped.
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

    def put(self, item: StreamItem) -> None:
        with self._cond:
            if self._closed:
                return
            if isinstance(item, MediaPacket):
                if self._resync and not item.keyframe:
                    self.stats.dropped += 1
                    return
                if self._packets >= self.max_packets:
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
                self._packets -= 1
                self.stats.delivered += 1
            return item

    def drain(self, wait: float) -> list[StreamItem]:
        """Everything queued, after waiting up to ``wait`` seconds for the first item."""
        with self._cond:
            if not self._items and not self._closed:
                self._cond.wait(wait)
            items = list(self._items)
            self._items.clear()
            delivered = sum(1 for item in items if isinstance(item, MediaPacket))
            self._packets -= delivered
            self.stats.delivered += delivered
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

    def subscribe(self, name: str, max_packets: int = 500, wake_per_packet: bool = True) -> PacketQueue:
        queue = PacketQueue(name, max_packets, wake_per_packet)
        with self._lock:
            self._queues.append(queue)
            if self._current_info is not None:
                queue.put(self._current_info)
                queue.join_at_next_keyframe()
        return queue

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
            elif isinstance(item, StreamInfo):
                self._current_info = item
                self._b_frames = False
                self._keyframe_interval = None
            elif isinstance(item, StreamEnd):
                self._current_info = None
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
