"""The bus between the processes of one machine: a broker on a UNIX socket, no server to install.

The embedded ``vms run`` is a supervisor with an API process and a worker process
(``vmsapp.supervisor``); the in-process bus cannot cross processes and Redis is not there, so
the supervisor runs a ``LocalBroker`` and both children connect with ``LocalBus``
(``local:///<path>``). It is pub/sub with Redis's semantics, nothing stored in the broker, with
one exception: a message a process publishes while it is disconnected waits in that process (at
most ``OUTBOX_FRAMES``, oldest lost first) and is sent once it is connected again, after its
subscriptions, because an alarm must not be lost to a reconnection. Frames are one JSON object per
line: ``{"op": "sub"|"unsub"|"pub", "topic", "message"}``.

Sends on either side give up after ``SEND_TIMEOUT`` (``SO_SNDTIMEO``), reads wait forever: a
quiet connection is a healthy one. A subscriber that cannot take a message in time is cut off
(shut down, so it notices and reconnects) rather than holding up the publisher.

The broker lives in the supervisor, the process that never restarts; a child reconnects (and
subscribes again) by itself when the broker comes back.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import struct
import threading
from collections import deque
from pathlib import Path
from typing import Any, AsyncIterator, Callable

from vms.bus.base import Bus, Listener
from vms.bus.memory import Subscribers

log = logging.getLogger(__name__)

SEND_TIMEOUT = 2.0  # a subscriber that cannot take a message within this is dropped, not waited for
RECONNECT_SECONDS = 0.5
OUTBOX_FRAMES = 10_000  # messages published while disconnected, kept for the next connection


def _send_timeout(sock: socket.socket, seconds: float) -> None:
    """Bound each send of ``sock`` to ``seconds`` without touching its reads.

    ``socket.settimeout`` would govern reads too: the broker used to set it before relaying, and
    the connection's reader then gave up after ``seconds`` of quiet, cutting healthy processes off."""
    whole = int(seconds)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", whole, int((seconds - whole) * 1e6)))


def _shut(sock: socket.socket) -> None:
    """End the connection now, waking its reader (``close`` alone leaves the descriptor open while
    the reader's file object holds it, so neither end would notice)."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def socket_path(url: str) -> Path:
    """``local:///run/vms/bus.sock`` → ``/run/vms/bus.sock``."""
    scheme, _, rest = url.partition("://")
    if scheme != "local" or not rest.startswith("/"):
        raise ValueError(f"a local bus URL is local:///absolute/path.sock, not '{url}'")
    return Path(rest)


class _Peer:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.topics: set[str] = set()
        self.lock = threading.Lock()

    def send(self, line: bytes) -> bool:
        with self.lock:
            try:
                self.sock.sendall(line)
                return True
            except OSError:
                return False


class LocalBroker:
    """Relays each published line to the connections subscribed to its topic."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._peers: set[_Peer] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None

    def start(self) -> "LocalBroker":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.path))
        os.chmod(self.path, 0o600)  # only this user's processes may join the bus
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, name="bus-broker", daemon=True).start()
        return self

    def close(self) -> None:
        """Stop accepting, then end every connection (their processes reconnect to the next broker)."""
        # Under the lock the accepting thread takes to register a peer: a connection accepted
        # just now is either in this snapshot or refused by that thread, never left open.
        with self._lock:
            listener, self._listener = self._listener, None
            peers, self._peers = list(self._peers), set()
        self.path.unlink(missing_ok=True)  # first: a peer reconnecting at once must not reach this broker
        if listener is not None:
            _shut(listener)  # wakes the accepting thread (close alone leaves it blocked, still accepting)
            listener.close()
        for peer in peers:
            _shut(peer.sock)

    def _accept(self) -> None:
        while self._listener is not None:
            listener = self._listener
            try:
                sock, _ = listener.accept() if listener is not None else (None, None)
            except OSError:
                return
            if sock is None or self._listener is None:  # closed meanwhile
                if sock is not None:
                    sock.close()
                return
            sock.settimeout(None)  # reads wait for as long as the peer is quiet
            _send_timeout(sock, SEND_TIMEOUT)
            peer = _Peer(sock)
            with self._lock:
                closed = self._listener is None
                if not closed:
                    self._peers.add(peer)
            if closed:  # close() ran between accept and here: its snapshot did not see this peer
                _shut(sock)
                sock.close()
                return
            threading.Thread(target=self._serve, args=(peer,), name="bus-peer", daemon=True).start()

    def _serve(self, peer: _Peer) -> None:
        try:
            with peer.sock.makefile("rb") as lines:
                for line in lines:
                    self._handle(peer, line)
        except (OSError, ValueError):
            pass
        finally:
            with self._lock:
                self._peers.discard(peer)
            peer.sock.close()

    def _handle(self, peer: _Peer, line: bytes) -> None:
        frame = json.loads(line)
        op, topic = frame.get("op"), frame.get("topic")
        if op == "sub":
            peer.topics.add(topic)
        elif op == "unsub":
            peer.topics.discard(topic)
        elif op == "pub":
            with self._lock:
                targets = [p for p in self._peers if topic in p.topics]
            for target in targets:
                if not target.send(line if line.endswith(b"\n") else line + b"\n"):
                    log.warning("bus subscriber too slow or gone; disconnected")
                    with self._lock:
                        self._peers.discard(target)
                    _shut(target.sock)


class LocalBus(Bus):
    """A process's connection to the ``LocalBroker``; reconnects by itself."""

    def __init__(self, url: str) -> None:
        self.path = socket_path(url)
        self._send_lock = threading.Lock()
        self._subscribers = Subscribers(on_first=lambda topic: self._send({"op": "sub", "topic": topic}))
        self._sock: socket.socket | None = None
        self._outbox: deque[bytes] = deque(maxlen=OUTBOX_FRAMES)  # published while disconnected
        self.connections = 0  # connections made so far (1 while the broker never went away)
        self.lost = 0  # messages pushed out of a full outbox
        self._connected = threading.Event()
        self._closed = threading.Event()
        self._reader = threading.Thread(target=self._run, name="bus-local", daemon=True)
        self._reader.start()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        self._send({"op": "pub", "topic": topic, "message": message})

    def subscribe(self, topic: str) -> AsyncIterator[dict[str, Any]]:
        return self._subscribers.subscribe(topic)

    def add_listener(self, topic: str, listener: Listener) -> Callable[[], None]:
        return self._subscribers.add_listener(topic, listener)

    def close(self) -> None:
        self._closed.set()
        sock = self._sock
        if sock is not None:
            _shut(sock)
            sock.close()
        self._reader.join(2)
        if self._outbox:
            log.warning("bus closed with %d messages never sent", len(self._outbox))

    # -- internals ------------------------------------------------------------------------------

    def _send(self, frame: dict[str, Any]) -> None:
        line = json.dumps(frame, default=str).encode() + b"\n"
        with self._send_lock:
            sock = self._sock
            if sock is None:
                if frame["op"] == "pub":
                    self._keep(line)
                return  # subscriptions are sent on (re)connection
            try:
                sock.sendall(line)
            except OSError as exc:
                # Perhaps half sent: the connection is unusable. Send it again on the next one
                # (a duplicate rather than a loss) and make the reader reconnect.
                log.warning("bus send on %s failed (%s); reconnecting", frame.get("topic"), exc)
                if frame["op"] == "pub":
                    self._keep(line)
                self._sock = None
                _shut(sock)

    def _keep(self, line: bytes) -> None:
        if len(self._outbox) == self._outbox.maxlen:
            self.lost += 1
            if self.lost % 1000 == 1:  # the first, then every thousandth: the log must not flood
                log.error("bus disconnected too long; %d unsent messages lost so far (oldest first)", self.lost)
        self._outbox.append(line)

    def _run(self) -> None:
        while not self._closed.is_set():
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(str(self.path))
            except OSError:
                sock.close()
                self._closed.wait(RECONNECT_SECONDS)
                continue
            _send_timeout(sock, SEND_TIMEOUT)  # reads stay blocking: a quiet broker is not a dead one
            try:
                with self._send_lock:
                    # Subscriptions first, so this process hears its own messages sent below; then
                    # what was published meanwhile, before any new message (order kept).
                    for topic in self._subscribers.topics():
                        sock.sendall(json.dumps({"op": "sub", "topic": topic}).encode() + b"\n")
                    while self._outbox:
                        sock.sendall(self._outbox[0])
                        self._outbox.popleft()
                    self._sock = sock
            except OSError:
                sock.close()
                self._closed.wait(RECONNECT_SECONDS)
                continue
            self.connections += 1
            self._connected.set()
            try:
                with sock.makefile("rb") as lines:
                    for line in lines:
                        self._dispatch(json.loads(line))
            except (OSError, ValueError):
                pass
            finally:
                with self._send_lock:
                    self._sock = None
                self._connected.clear()
                sock.close()
            if not self._closed.is_set():
                log.warning("bus broker at %s went away; reconnecting", self.path)

    def _dispatch(self, frame: dict[str, Any]) -> None:
        topic, message = frame.get("topic"), frame.get("message")
        if isinstance(topic, str) and isinstance(message, dict):
            self._subscribers.deliver(topic, message)
