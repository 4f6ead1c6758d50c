"""One camera stream's live relay: one fan-out subscription, a GOP cache, and any number of viewers.

Ingest and the fan-out are threads, aiortc lives on the asyncio loop. The relay's pump thread
reads the packet queue, updates the GOP cache under a lock, and (only while someone watches)
hands each item to the loop with ``call_soon_threadsafe``; viewers are touched only on the loop.
An idle relay costs its thread and one GOP of memory, and never wakes the loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Callable

from streams.fanout import PacketFanout, PacketQueue
from streams.live.gop import GopCache
from streams.live.track import RelayTrack
from streams.packets import MediaPacket, StreamEnd, StreamInfo, StreamItem

log = logging.getLogger(__name__)


class LiveRelay:
    def __init__(
        self,
        camera_id: str,
        stream: str,
        fanout: PacketFanout,
        loop: asyncio.AbstractEventLoop,
        queue_packets: int = 500,
        max_gop_seconds: float = 35.0,
        max_gop_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.camera_id = camera_id
        self.stream = stream
        self.fanout = fanout
        self.loop = loop
        self._queue: PacketQueue = fanout.subscribe(f"live-{stream}", queue_packets)
        self._gop = GopCache(max_gop_seconds, max_gop_bytes)
        self._lock = threading.Lock()
        self._seq = 0  # number of the last item received
        self._viewers: dict[RelayTrack, int] = {}  # track -> number of the last item it already has
        self._closed = False
        self.last_used = time.monotonic()
        self.items_received = 0
        self.b_frames = False
        self._thread = threading.Thread(target=self._pump, name=f"live-{camera_id}-{stream}", daemon=True)
        self._thread.start()

    # -- the pump thread ------------------------------------------------------------------

    def _pump(self) -> None:
        while True:
            item = self._queue.get(timeout=1.0)
            if item is None:
                if self._queue.closed:
                    break
                continue
            with self._lock:
                self._seq += 1
                seq = self._seq
                self.items_received += 1
                if isinstance(item, MediaPacket):
                    self._gop.add(seq, item)
                    if item.pts != item.dts and not self.b_frames:
                        self.b_frames = True
                        log.warning(
                            "camera %s (%s) sends B-frames: browsers drop them in WebRTC and show a jerky "
                            "picture; turn B-frames off in the camera's encoder settings",
                            self.camera_id,
                            self.stream,
                        )
                elif isinstance(item, StreamInfo):
                    self._gop.start(item)
                elif isinstance(item, StreamEnd):
                    self._gop.end()
                watched = bool(self._viewers)
            if watched:
                self._call(self._deliver, seq, item)
        # The queue was closed: we were closed, or the pipeline was stopped (camera removed/edited).
        self._call(self._ended)

    def _call(self, callback: Callable[..., object], *args: object) -> None:
        try:
            self.loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:
            pass  # the loop is closed: the process is shutting down

    # -- on the event loop ----------------------------------------------------------------

    def _deliver(self, seq: int, item: StreamItem) -> None:
        for track, has in list(self._viewers.items()):
            if seq > has:
                track.feed(item)

    def _ended(self) -> None:
        self._closed = True
        for track in list(self._viewers):
            track.end(f"live relay of camera {self.camera_id} ({self.stream}) stopped")
        self._viewers.clear()

    def attach(self, track: RelayTrack) -> None:
        """Start ``track`` from the cached GOP and feed it every later packet."""
        if self.closed:
            track.end(f"live relay of camera {self.camera_id} ({self.stream}) stopped")
            return
        with self._lock:
            info, packets = self._gop.info, self._gop.packets()
            self._viewers[track] = self._seq
            self.last_used = time.monotonic()
        track.start_from(info, packets)

    def restart(self, track: RelayTrack) -> None:
        """Replay the cached GOP to one viewer (it lost a picture or fell behind)."""
        if track in self._viewers:
            self.attach(track)

    def detach(self, track: RelayTrack) -> None:
        with self._lock:
            self._viewers.pop(track, None)
            self.last_used = time.monotonic()

    # -- any thread -----------------------------------------------------------------------

    @property
    def viewers(self) -> int:
        return len(self._viewers)

    @property
    def info(self) -> StreamInfo | None:
        """The description of the running session, or None while the camera is offline."""
        return self._gop.info or self.fanout.current_info

    @property
    def closed(self) -> bool:
        return self._closed or self._queue.closed

    @property
    def gop_packets(self) -> int:
        return len(self._gop)

    def latest_keyframe(self) -> tuple[StreamInfo, MediaPacket] | None:
        """The newest keyframe the camera stream sent, kept by the fan-out (whatever the GOP length,
        and also from before this relay subscribed)."""
        return self.fanout.latest_keyframe

    def touch(self) -> None:
        self.last_used = time.monotonic()

    def close(self, timeout: float = 2.0) -> None:
        """Unsubscribe from the fan-out (ingest keeps running) and end the pump thread."""
        self.fanout.unsubscribe(self._queue)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
