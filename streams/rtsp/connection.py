"""One TCP connection to an RTSP server: requests, their responses by CSeq, interleaved frames.

After PLAY the server sends RTP and RTCP framed as ``$``, channel, 16-bit length (RFC 2326
section 10.12) on the same connection as the responses. ``pace(interval)`` paces the reads:
the transport stays paused and the loop's one paced reader (streams.rtsp.paced) reads the
socket every ``interval`` seconds, so one read takes everything that arrived meanwhile (many
packets) instead of waking the loop for each burst.

Answers are matched to their requests by CSeq (RFC 2326 12.17), not by order: a keep-alive the
camera never answers would otherwise stay first in line and every later answer would complete
the request before its own (TEARDOWN getting the keep-alive's answer, and so on).
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Callable

from streams.rtsp.messages import Response, RtspProtocolError, build_request, parse_response
from streams.rtsp.paced import PacedReader, paced_reader

FrameSink = Callable[[int, bytes], None]  # (channel, payload)
ReadSink = Callable[[float, float], None]  # (UTC epoch seconds of the read, read interval in s)


class RtspConnection(asyncio.Protocol):
    """An asyncio protocol; make one with ``await RtspConnection.open(host, port, timeout)``.

    ``closed`` completes when the connection ends: with None on a clean close, or with the
    exception that ended it (the server's, or one raised by ``on_frame``).
    """

    def __init__(self) -> None:
        self.on_frame: FrameSink = lambda channel, payload: None
        self.on_read_done: ReadSink = lambda now, interval: None  # after a read's frames
        self.read_interval = 0.0  # seconds between reads once paced; 0 reads as data comes
        self.bytes_received = 0
        self._buffer = b""
        # Requests sent and not answered yet, by CSeq, oldest first. A request whose caller gave
        # up (its future cancelled by a timeout) leaves it; its late answer is then dropped.
        self._waiting: dict[int, asyncio.Future[Response]] = {}
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        self.closed: asyncio.Future[None] = self._loop.create_future()
        self._cseq = 0
        self._sock: socket.socket | None = None  # ours, read directly once paced
        self._reader: PacedReader | None = None

    @classmethod
    async def open(cls, host: str, port: int, timeout: float) -> "RtspConnection":
        loop = asyncio.get_running_loop()

        async def connect() -> "RtspConnection":
            # Our own socket (not the transport's wrapper) so paced reads can recv on it.
            family, kind, proto, _, address = (await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM))[0]
            sock = socket.socket(family, kind, proto)
            try:
                sock.setblocking(False)
                await loop.sock_connect(sock, address)
                _, connection = await loop.create_connection(cls, sock=sock)
            except BaseException:
                sock.close()
                raise
            connection._sock = sock
            return connection

        return await asyncio.wait_for(connect(), timeout)

    def pace(self, interval: float) -> None:
        """Read every ``interval`` seconds from now on (0: as data comes). Loop thread only."""
        self.read_interval = interval
        if interval <= 0 or self._transport is None or self._sock is None or self.closed.done():
            return
        self._transport.pause_reading()
        self._reader = paced_reader(self._loop, interval)
        self._reader.add(self, self._sock)

    def paced_read(self, data: bytes, closed: bool, error: Exception | None, now: float) -> None:
        """The paced reader's call (streams.rtsp.paced): handle what one read took."""
        if data:
            self._handle(data, now)
        if error is not None or closed:
            self._fail(error)

    def send(self, method: str, url: str, headers: dict[str, str]) -> asyncio.Future[Response]:
        """Send a request; the future completes with the response that carries its CSeq.

        Cancelling the future (a caller's timeout) forgets the request.
        """
        if self._transport is None or self._transport.is_closing():
            raise ConnectionError("RTSP connection is closed")
        self._cseq += 1
        cseq = self._cseq
        answer: asyncio.Future[Response] = self._loop.create_future()
        self._waiting[cseq] = answer
        answer.add_done_callback(lambda _: self._waiting.pop(cseq, None))
        self._transport.write(build_request(method, url, cseq, headers))
        return answer

    def send_frame(self, channel: int, payload: bytes) -> bool:
        """Send one interleaved frame (RTCP to the camera); False when the connection is closing."""
        if self._transport is None or self._transport.is_closing():
            return False
        self._transport.write(b"$" + bytes([channel]) + len(payload).to_bytes(2, "big") + payload)
        return True

    def close(self) -> None:
        if self._reader is not None:  # no read after close, not even before connection_lost
            self._reader.remove(self)
            self._reader = None
        if self._transport is not None:
            self._transport.close()

    # -- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._handle(data, time.time())

    def _handle(self, data: bytes, now: float) -> None:
        self.bytes_received += len(data)
        buffer = self._buffer + data if self._buffer else data
        pos, size = 0, len(buffer)
        on_frame = self.on_frame
        try:
            while pos < size:
                if buffer[pos] == 0x24:  # '$': an interleaved frame
                    if size - pos < 4:
                        break
                    end = pos + 4 + ((buffer[pos + 2] << 8) | buffer[pos + 3])
                    if end > size:
                        break
                    on_frame(buffer[pos + 1], buffer[pos + 4:end])
                    pos = end
                else:
                    response, pos_after = parse_response(buffer, pos)
                    if response is None:
                        break
                    pos = pos_after
                    if response.status:  # status 0: a server's request, ignored
                        self._answer(response)
            self.on_read_done(now, self.read_interval)
        except Exception as exc:  # a protocol error or a depacketizer's: this session is over
            self._fail(exc)
            return
        self._buffer = buffer[pos:]

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(exc)

    # -- internals ------------------------------------------------------------------------

    def _answer(self, response: Response) -> None:
        """Complete the request ``response`` answers: by its CSeq; without one, the oldest."""
        cseq = response.header("cseq").strip()
        if cseq.isdigit():
            waiting = self._waiting.pop(int(cseq), None)
        else:  # a server that does not echo CSeq answers in order (none known; be lenient)
            waiting = self._waiting.pop(next(iter(self._waiting)), None) if self._waiting else None
        if waiting is not None and not waiting.done():
            waiting.set_result(response)

    def _fail(self, exc: Exception | None) -> None:
        if self._reader is not None:
            self._reader.remove(self)
            self._reader = None
        for waiting in list(self._waiting.values()):
            if not waiting.done():
                waiting.set_exception(exc or ConnectionError("RTSP connection closed"))
        self._waiting.clear()
        if not self.closed.done():
            if exc is None:
                self.closed.set_result(None)
            else:
                self.closed.set_exception(exc)
        if self._transport is not None:
            self._transport.close()


__all__ = ["FrameSink", "ReadSink", "RtspConnection", "RtspProtocolError"]
