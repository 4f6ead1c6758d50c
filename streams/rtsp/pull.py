"""One built-in RTSP session driven from a blocking thread; its packets handled on the shared loop.

Ingest keeps a thread per stream for set-up, retry and back-off, but the hot path runs on the
process's one RTSP event loop (streams.rtsp.loop): ``open(sink)`` plays the session there and
``sink`` is called in that loop's thread for every access unit, while the ingest thread sleeps in
``wait()`` until the session ends. No queue and no thread hop per packet.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import Future
from typing import Any, Coroutine, TypeVar

from streams.rtsp.loop import shared_loop
from streams.rtsp.rtp import UnitSink
from streams.rtsp.sdp import VideoTrack
from streams.rtsp.session import RtspSession

T = TypeVar("T")
WATCH_SECONDS = 0.5  # how often a waiting thread looks at its stop flag and the silence


class RtspPull:
    """Pull one stream; ``timeout`` bounds each set-up answer, in seconds."""

    def __init__(self, url: str, username: str | None = None, password: str | None = None,
                 timeout: float = 10.0, read_interval: float = 0.05) -> None:
        self._loop = shared_loop()
        self._session = RtspSession(url, username, password, timeout, read_interval)
        self._timeout = timeout
        self._closed: Future[None] = Future()
        self.last_unit_at = time.monotonic()
        self.track: VideoTrack | None = None

    def open(self, sink: UnitSink) -> VideoTrack:
        """Connect, describe, set up and play; ``sink`` then gets every access unit (loop thread).

        Raises what RtspSession.play raises; TimeoutError when the whole set-up takes longer
        than four answers would.
        """
        def counted(data: bytes, pts: int, keyframe: bool, arrival: float) -> None:
            self.last_unit_at = time.monotonic()
            sink(data, pts, keyframe, arrival)

        async def play() -> VideoTrack:
            track = await self._session.play(counted)
            self._session.connection_closed().add_done_callback(self._ended)
            return track

        self.last_unit_at = time.monotonic()
        self.track = self._run(play(), self._timeout * 4)
        return self.track

    def wait(self, stop: threading.Event, read_timeout: float) -> None:
        """Block until the server ends the stream (returns), ``stop`` is set (returns), or it fails.

        Raises TimeoutError after ``read_timeout`` seconds without an access unit, and whatever
        broke the connection (OSError, RtspProtocolError, DepacketizeError, a sink's exception).
        """
        while not stop.is_set():
            try:
                self._closed.result(WATCH_SECONDS)
                return
            except TimeoutError:
                pass
            if time.monotonic() - self.last_unit_at > read_timeout:
                raise TimeoutError(f"no video for {read_timeout:g} s")

    @property
    def lost_packets(self) -> int:
        return self._session.assembler.lost_packets if self._session.assembler else 0

    def close(self) -> None:
        """TEARDOWN (briefly) and close. After it returns, ``sink`` is not called again."""
        self._run(self._session.close(), 5.0)

    # -- internals ------------------------------------------------------------------------

    def _run(self, work: Coroutine[Any, Any, T], timeout: float) -> T:
        done = asyncio.run_coroutine_threadsafe(work, self._loop)
        try:
            return done.result(timeout)
        except TimeoutError:
            done.cancel()
            raise

    def _ended(self, closed: asyncio.Future[None]) -> None:
        if closed.cancelled():
            self._closed.set_result(None)
        elif closed.exception() is not None:
            self._closed.set_exception(closed.exception() or ConnectionError())
        else:
            self._closed.set_result(None)


__all__: list[str] = ["RtspPull"]
