"""A strict camera's session timeout, as a proxy in front of the camera simulator.

GStreamer's RTSP server never expires a session whose RTP goes over the RTSP connection (it
holds the session open while the connection lives), while some cameras drop a client that
sends nothing for the Session header's ``timeout=`` even over interleaved TCP. This proxy
does what those cameras do: it announces ``timeout`` seconds in every Session header and
closes a connection that has sent neither an RTSP request nor an RTCP packet for that long
after PLAY. It counts what each client sent: requests by method and RTCP compound packets
(kept, to be read back by the test).
"""

from __future__ import annotations

import re
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator
from urllib.parse import urlsplit

from tests.support.rtsp_proxy import read_message

_PUBLIC = re.compile(rb"(\r\nPublic:[ \t]*)[^\r]*", re.IGNORECASE)
_SESSION_TIMEOUT = re.compile(rb"(\r\nSession:[^\r;]*)(;\s*timeout=\d+)?", re.IGNORECASE)


@dataclass
class ClientLog:
    """What one client connection sent, and whether the proxy dropped it."""

    requests: list[str] = field(default_factory=list)  # methods, in order
    rtcp: list[tuple[float, bytes]] = field(default_factory=list)  # (monotonic time, compound packet)
    media_ssrc: int | None = None  # the camera's RTP SSRC, as forwarded to the client
    dropped: bool = False
    playing_since: float | None = None


class StrictSessionProxy:
    """Serve the upstream server's paths at ``url(upstream_url)`` with a ``timeout`` s session timeout.

    ``public``: the Public header to answer OPTIONS with instead of the server's (a camera
    that lists fewer methods); None keeps the server's.
    """

    def __init__(self, upstream_url: str, timeout: int, public: str | None = None) -> None:
        parts = urlsplit(upstream_url)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 554)
        self.timeout = timeout
        self.public = public
        self.clients: list[ClientLog] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, upstream_url: str) -> str:
        return f"rtsp://127.0.0.1:{self.port}{urlsplit(upstream_url).path}"

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        for sock in list(self._sockets):
            _shut(sock)

    # -- internals ------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream, timeout=10)
            upstream.settimeout(None)
            log = ClientLog()
            with self._lock:
                self.clients.append(log)
                self._sockets += [client, upstream]
            heard = [time.monotonic()]  # when the client last sent a request or RTCP
            threading.Thread(target=self._from_client, args=(client, upstream, log, heard), daemon=True).start()
            threading.Thread(target=self._to_client, args=(upstream, client, log), daemon=True).start()
            threading.Thread(target=self._watch, args=(client, upstream, log, heard), daemon=True).start()

    def _from_client(self, client: socket.socket, upstream: socket.socket, log: ClientLog, heard: list[float]) -> None:
        reader = client.makefile("rb")
        try:
            while True:
                kind, message = read_message(reader)
                heard[0] = time.monotonic()
                if kind == "text":
                    log.requests.append(message.split(b" ", 1)[0].decode("ascii", "replace"))
                elif message[1] % 2:  # an odd interleaved channel: RTCP
                    log.rtcp.append((heard[0], message[4:]))
                upstream.sendall(message)
        except (EOFError, OSError, ValueError):
            pass
        _shut(client, upstream)

    def _to_client(self, upstream: socket.socket, client: socket.socket, log: ClientLog) -> None:
        reader = upstream.makefile("rb")
        try:
            while True:
                kind, message = read_message(reader)
                if kind == "text":
                    message = _SESSION_TIMEOUT.sub(rb"\g<1>;timeout=" + str(self.timeout).encode(), message)
                    if self.public is not None:
                        message = _PUBLIC.sub(rb"\g<1>" + self.public.encode(), message)
                    if log.playing_since is None and b"RTP-Info" in message:  # the answer to PLAY
                        log.playing_since = time.monotonic()
                elif message[1] == 0 and log.media_ssrc is None:
                    log.media_ssrc = int.from_bytes(message[4 + 8:4 + 12], "big")
                client.sendall(message)
        except (EOFError, OSError, ValueError):
            pass
        _shut(client, upstream)

    def _watch(self, client: socket.socket, upstream: socket.socket, log: ClientLog, heard: list[float]) -> None:
        while not self._closed.wait(0.2):
            if client.fileno() < 0:
                return
            if log.playing_since is not None and time.monotonic() - heard[0] > self.timeout:
                log.dropped = True
                _shut(client, upstream)
                return


def _shut(*sockets: socket.socket) -> None:
    for sock in sockets:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()


@contextmanager
def strict_session_proxy(upstream_url: str, timeout: int, public: str | None = None) -> Iterator[StrictSessionProxy]:
    proxy = StrictSessionProxy(upstream_url, timeout, public)
    try:
        yield proxy
    finally:
        proxy.close()
