"""One viewer's video track: the camera's H.264 access units handed to aiortc without re-encoding.

aiortc's ``RTCRtpSender`` calls ``recv()``; when it returns an ``av.Packet`` instead of a frame,
the sender skips its encoder and only packetizes (``H264Encoder.pack``), taking the RTP timestamp
from ``packet.pts`` in ``packet.time_base``. Each viewer has its own timeline so that cached
frames sent in a burst, restarts and camera reconnects all keep its RTP clock increasing.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from fractions import Fraction
from typing import Callable

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from streams.packets import MediaPacket, StreamEnd, StreamInfo, StreamItem

VIDEO_CLOCK = 90_000
VIDEO_TIME_BASE = Fraction(1, VIDEO_CLOCK)
# Cached frames are sent at once and stamped 1 ms apart: the browser decodes them straight
# away and shows the newest, instead of replaying the GOP at its original pace behind live.
BURST_STEP = VIDEO_CLOCK // 1000
# A step between sessions (camera reconnect) when no better one is known: one frame at 25 fps.
DEFAULT_STEP = VIDEO_CLOCK // 25
# Keyframe requests (PLI/FIR) closer together than this are answered once.
KEYFRAME_REQUEST_INTERVAL = 0.5
PASSTHROUGH_CODECS = {"h264"}
# WebRTC has no frame reordering: Chromium shows a B-frame stream at a few frames a second and
# asks for keyframes all the time (each replaying the GOP), so passthrough refuses B-frames.
B_FRAMES_REFUSED = (
    "camera {camera} sends B-frames, which browsers cannot play over WebRTC; "
    "turn B-frames off in the camera's encoder settings, or ask for ?transcode=1 to re-encode on the server"
)


class Timeline:
    """Maps the packets one viewer receives, from any session, onto one increasing 90 kHz clock."""

    def __init__(self) -> None:
        self._last: tuple[int, int, int, float] | None = None  # (session, dts, out_dts, monotonic)

    def stamp(self, packet: MediaPacket, burst: bool) -> tuple[int, int]:
        """Return (pts, dts) in 90 kHz for ``packet``, which is sent now."""
        now = time.monotonic()
        to_clock = packet.time_base * VIDEO_CLOCK
        if self._last is None:
            out_dts = 0
        else:
            session, dts, last_out, sent_at = self._last
            if burst:
                step = BURST_STEP
            elif session == packet.session and packet.dts > dts:
                step = round((packet.dts - dts) * to_clock)
            else:
                # New session or a jump back: continue after the time that really passed.
                step = round((now - sent_at) * VIDEO_CLOCK) or DEFAULT_STEP
            out_dts = last_out + max(1, step)
        self._last = (packet.session, packet.dts, out_dts, now)
        return out_dts + max(0, round((packet.pts - packet.dts) * to_clock)), out_dts


class RelayTrack(MediaStreamTrack):
    """The queue between a relay (which feeds it on the event loop) and aiortc (which reads it).

    The track asks its relay to start it on aiortc's first ``recv()``, i.e. once the peer is
    connected, so the GOP burst is the freshest one and not stale by the ICE/DTLS set-up time.
    """

    kind = "video"

    def __init__(self, name: str, max_queue: int = 150) -> None:
        super().__init__()
        self.name = name
        self.max_queue = max_queue
        self.codec: str | None = None
        self.on_start: Callable[["RelayTrack"], None] | None = None
        self.on_restart: Callable[["RelayTrack"], None] | None = None
        self._queue: deque[tuple[MediaPacket, bool]] = deque()
        self._wakeup = asyncio.Event()
        self._started = False
        self._waiting_keyframe = True
        self._last_restart = 0.0
        self.timeline = Timeline()
        self.end_reason: str | None = None
        # figures for tests, the API and the benchmark
        self.created_at = time.monotonic()
        self.first_sent_at: float | None = None
        self.last_sent_at: float | None = None
        self.resumed_at: float | None = None  # when sending (re)started after a pause
        self.frames_sent = 0
        self.restarts = 0
        self.keyframe_requests = 0
        self.dropped = 0

    # -- fed by the relay (event loop) ----------------------------------------------------

    def start_from(self, info: StreamInfo | None, packets: list[MediaPacket]) -> None:
        """(Re)start from a cached GOP; without one, wait for the next live keyframe."""
        if info is not None and not self._accept(info):
            return
        self._queue.clear()
        self._queue.extend((packet, True) for packet in packets)
        self._waiting_keyframe = not packets
        self._wakeup.set()

    def feed(self, item: StreamItem) -> None:
        if isinstance(item, MediaPacket):
            if self._waiting_keyframe and not item.keyframe:
                return
            self._waiting_keyframe = False
            if len(self._queue) >= self.max_queue:
                # The viewer cannot keep up (or the loop was busy): start again from the newest GOP.
                self.dropped += len(self._queue)
                self._request_restart(force=True)
                return
            self._queue.append((item, False))
            self._wakeup.set()
        elif isinstance(item, StreamInfo):
            self._accept(item)
        elif isinstance(item, StreamEnd):
            self._waiting_keyframe = True  # the next session starts with a keyframe anyway

    def end(self, reason: str) -> None:
        """End the track (the browser sees it end and reconnects)."""
        self.end_reason = reason
        self.stop()

    def stop(self) -> None:
        super().stop()
        self._wakeup.set()

    def _accept(self, info: StreamInfo) -> bool:
        self.codec = info.codec
        if not self.accepts(info.codec):
            self.end(f"camera {info.camera_id} now sends {info.codec}")
            return False
        return True

    def accepts(self, codec: str) -> bool:
        return codec in PASSTHROUGH_CODECS

    # -- keyframe requests from the browser ----------------------------------------------

    def request_keyframe(self) -> None:
        """A PLI/FIR from the viewer: the camera cannot be asked, so replay the cached GOP."""
        self.keyframe_requests += 1
        self._request_restart(force=False)

    def _request_restart(self, force: bool) -> None:
        now = time.monotonic()
        if not force and now - self._last_restart < KEYFRAME_REQUEST_INTERVAL:
            return
        self._last_restart = now
        self.restarts += 1
        if self.on_restart is not None:
            self.on_restart(self)

    # -- read by aiortc ---------------------------------------------------------------------

    async def _next(self) -> tuple[MediaPacket, bool]:
        if not self._started:
            self._started = True
            if self.on_start is not None:
                self.on_start(self)
        while not self._queue:
            if self.readyState != "live":
                raise MediaStreamError
            self._wakeup.clear()
            await self._wakeup.wait()
        if self.readyState != "live":
            raise MediaStreamError
        return self._queue.popleft()

    def _sent(self) -> None:
        now = time.monotonic()
        if self.first_sent_at is None:
            self.first_sent_at = now
        if self.last_sent_at is None or now - self.last_sent_at > 1.0:
            self.resumed_at = now
        self.last_sent_at = now
        self.frames_sent += 1

    @property
    def queued(self) -> int:
        return len(self._queue)


class PassthroughTrack(RelayTrack):
    """Hands the camera's access units to aiortc as ``av.Packet``: packetized, never re-encoded.

    A B-frame (pts != dts) ends the track with ``B_FRAMES_REFUSED``: the API refuses such a
    camera up front once it has seen one, and this covers a viewer who came before that."""

    async def recv(self) -> av.Packet:
        packet, burst = await self._next()
        if packet.pts != packet.dts:
            self.end(B_FRAMES_REFUSED.format(camera=self.name))
            raise MediaStreamError
        pts, dts = self.timeline.stamp(packet, burst)
        out = av.Packet(packet.data)
        out.pts, out.dts, out.time_base = pts, dts, VIDEO_TIME_BASE
        self._sent()
        return out
