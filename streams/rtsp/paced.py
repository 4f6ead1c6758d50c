"""Paced reads of every playing RTSP connection of a loop by one timer (decision 106).

Pausing and resuming each connection's transport around a timer (the first design) cost, per
connection and read, a timer handle, two ``epoll_ctl`` calls and a wake-up of the selector;
at 120 cameras and 20 reads a second that was a tenth of the worker's busy time. Here every
playing connection's transport stays paused and one timer per loop and interval reads each
socket until it would block: one wake-up per interval for the whole process.
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Protocol

RECV_BYTES = 256 * 1024  # one recv; a read loops until the socket would block


class PacedConnection(Protocol):
    def paced_read(self, data: bytes, closed: bool, error: Exception | None, now: float) -> None:
        """What arrived since the last read (UTC epoch s ``now``); ``closed``: the server closed
        the connection after it; ``error``: the socket failed (``data`` then empty)."""


class PacedReader:
    """Reads the sockets of its connections every ``interval`` seconds on ``loop``."""

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float) -> None:
        self._loop = loop
        self.interval = interval
        self._connections: dict[PacedConnection, socket.socket] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._due = 0.0

    def add(self, connection: PacedConnection, sock: socket.socket) -> None:
        """Read ``sock`` for ``connection`` from the next tick on (its transport must be paused)."""
        self._connections[connection] = sock
        if self._handle is None:
            self._due = self._loop.time() + self.interval
            self._handle = self._loop.call_at(self._due, self._tick)

    def remove(self, connection: PacedConnection) -> None:
        self._connections.pop(connection, None)
        if not self._connections and self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _tick(self) -> None:
        now = time.time()
        for connection, sock in list(self._connections.items()):
            data, closed, error = _read_all(sock)
            if data or closed or error is not None:
                connection.paced_read(data, closed, error, now)
        if not self._connections:
            self._handle = None
            return
        # Keep the cadence (no drift from the reads' own time), but never schedule into the past.
        self._due = max(self._due + self.interval, self._loop.time())
        self._handle = self._loop.call_at(self._due, self._tick)


def _read_all(sock: socket.socket) -> tuple[bytes, bool, Exception | None]:
    """(everything readable now, whether the server closed after it, the error that ended it)."""
    chunks: list[bytes] = []
    closed, error = False, None
    try:
        while True:
            chunk = sock.recv(RECV_BYTES)
            if not chunk:
                closed = True
                break
            chunks.append(chunk)
            if len(chunk) < RECV_BYTES:
                break
    except (BlockingIOError, InterruptedError):
        pass
    except OSError as exc:
        error = exc
    return (chunks[0] if len(chunks) == 1 else b"".join(chunks)), closed, error


_readers: dict[tuple[int, float], PacedReader] = {}


def paced_reader(loop: asyncio.AbstractEventLoop, interval: float) -> PacedReader:
    """The reader of ``loop`` for ``interval`` seconds (one per loop and interval). Loop thread only."""
    key = (id(loop), interval)
    reader = _readers.get(key)
    if reader is None or reader._loop is not loop:
        reader = _readers[key] = PacedReader(loop, interval)
    return reader
