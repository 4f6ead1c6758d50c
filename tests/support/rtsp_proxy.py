"""A timestamp-rewriting RTSP proxy between the camera simulator and vms (RTSP interleaved over TCP).

It stands in for the clock faults of real cameras. Requests and responses pass through
unchanged; the video RTP packets (interleaved channel 0) from the camera are rewritten:

* ``shift(seconds)``: from the next frame on, RTP timestamps step by ``seconds`` (negative:
  back, as a camera whose clock restarts; positive: forward, as an NTP correction);
* ``scale(factor)``: from the next frame on, the camera clock runs ``factor`` times as fast;
* ``hold(seconds)``: nothing reaches the client for ``seconds``, then everything held arrives
  at once (a network stall and burst);
* ``drop(seconds)``: whole frames are lost for ``seconds``;
* ``lag(peak, build, drain)``: a backlog (what an overloaded camera encoder or a busy machine
  does): the delay of everything sent grows from 0 to ``peak`` seconds over ``build`` seconds,
  then drains back to 0 over ``drain`` seconds, order kept, nothing lost;
* ``switch_to(url)``: from the next keyframe of another mount on, its video is sent instead,
  with sequence numbers, timestamps and SSRC continued (a camera changing its resolution).

Changes take effect at frame boundaries (after an RTP packet with the marker bit), so no
picture is split between two clocks. Every change is counted in ``injected``.
"""

from __future__ import annotations

import queue
import socket
import struct
import threading
import time
from contextlib import contextmanager
from urllib.parse import urlsplit

RTP_CLOCK = 90_000


def _read_exact(reader, size: int) -> bytes:
    data = reader.read(size)
    if data is None or len(data) < size:
        raise EOFError
    return data


def read_message(reader) -> tuple[str, bytes]:
    """One item from an RTSP connection: ("frame", b"$" + header + payload) or ("text", message)."""
    first = _read_exact(reader, 1)
    if first == b"$":
        header = _read_exact(reader, 3)
        return "frame", first + header + _read_exact(reader, struct.unpack(">H", header[1:])[0])
    head = first
    while not head.endswith(b"\r\n\r\n"):
        head += _read_exact(reader, 1)
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return "text", head + (_read_exact(reader, length) if length else b"")


def is_keyframe_start(payload: bytes) -> bool:
    """True for an H.264 RTP payload that begins an IDR picture or carries an SPS."""
    kind = payload[0] & 0x1F
    if kind in (5, 7):
        return True
    if kind == 24:  # STAP-A: aggregated NAL units (SPS, PPS, ...)
        return len(payload) > 3 and payload[3] & 0x1F in (5, 7)
    if kind == 28:  # FU-A: the start fragment names the NAL type
        return len(payload) > 1 and payload[1] & 0x80 and payload[1] & 0x1F in (5, 7)
    return False


class _Clock:
    """Maps camera RTP timestamps to the rewritten ones: continuous, piecewise linear."""

    def __init__(self) -> None:
        self.unwrapped: int | None = None
        self.last_raw = 0
        self.in_base = 0
        self.out_base = 0.0
        self.factor = 1.0

    def out(self, raw: int) -> float:
        if self.unwrapped is None:
            self.unwrapped = self.in_base = raw
            self.out_base = float(raw)
        else:
            self.unwrapped += ((raw - self.last_raw + 2**31) % 2**32) - 2**31
        self.last_raw = raw
        return self.out_base + (self.unwrapped - self.in_base) * self.factor

    def rebase(self, factor: float | None = None, shift: float = 0.0) -> None:
        if self.unwrapped is None:
            return
        self.out_base = self.out(self.last_raw) + shift
        self.in_base = self.unwrapped
        if factor is not None:
            self.factor = factor


class _Connection:
    def __init__(self, proxy: "RtspProxy", client: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream = socket.create_connection((proxy.upstream_host, proxy.upstream_port), timeout=10)
        self.clock = _Clock()
        self.held: list[bytes] = []
        self.dropping = False
        self.losing = False  # lose the next packet that starts a picture other than a keyframe
        self.boundary = True  # the next RTP packet starts a frame
        self.out_seq: int | None = None
        self.ssrc: bytes | None = None
        self.last_out_ts = 0
        self.lock = threading.Lock()
        self.send_lock = threading.Lock()
        self.alive = True
        self.late: queue.Queue[tuple[float, bytes]] = queue.Queue()  # (when to send, message)
        self.late_pending = 0  # messages in ``late`` not sent yet (guarded by send_lock)
        threading.Thread(target=self._send_late, daemon=True).start()

    def run(self) -> None:
        threading.Thread(target=self._client_to_upstream, daemon=True).start()
        self._upstream_to_client()

    def close(self) -> None:
        self.alive = False
        for sock in (self.client, self.upstream):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _client_to_upstream(self) -> None:
        try:
            while self.alive:
                data = self.client.recv(65536)
                if not data:
                    break
                self.upstream.sendall(data)
        except OSError:
            pass
        self.close()

    def _upstream_to_client(self) -> None:
        reader = self.upstream.makefile("rb")
        self.upstream.settimeout(None)
        try:
            while self.alive:
                kind, message = read_message(reader)
                if kind == "frame" and message[1] == 0:
                    message = self._video(message)
                    if message is None:
                        continue
                elif kind == "frame" and self.proxy.switched is not None:
                    continue  # the old mount's RTCP would contradict the spliced stream
                self._send(message)
        except (EOFError, OSError):
            pass
        self.close()

    def _send(self, message: bytes) -> None:
        with self.send_lock:
            delay = self.proxy.lag_at(time.monotonic())
            if delay > 0 or self.late_pending:
                # Behind a backlog: queued in order, sent when due (never before what is queued).
                self.late_pending += 1
                self.late.put((time.monotonic() + delay, message))
                return
            if time.monotonic() < self.proxy.hold_until:
                self.held.append(message)
                return
            if self.held:
                message = b"".join(self.held) + message
                self.held = []
            self.client.sendall(message)

    def _send_late(self) -> None:
        while self.alive:
            try:
                due, message = self.late.get(timeout=0.5)
            except queue.Empty:
                continue
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)  # the backlog's pacing itself: wall-clock delay is the fault
            with self.send_lock:
                self.late_pending -= 1
                try:
                    self.client.sendall(message)
                except OSError:
                    return

    def _video(self, frame: bytes, spliced: bool = False) -> bytes | None:
        """Rewrite one interleaved RTP packet of the camera; None when it is dropped."""
        proxy = self.proxy
        rtp = bytearray(frame[4:])
        if proxy.switched is not None and not spliced:
            return None  # the old mount is no longer shown
        with proxy.lock:
            starts = self.boundary
            if starts:
                self._apply_pending()
            self.boundary = bool(rtp[1] & 0x80)
            dropping = self.dropping
            losing = self.losing and starts and self.out_seq is not None and not is_keyframe_start(bytes(rtp[12:]))
            if losing:
                self.losing = False
        if dropping:
            return None
        if losing:  # lost on the way: its sequence number is skipped, as a network loses it
            assert self.out_seq is not None
            self.out_seq = (self.out_seq + 1) % 65536
            proxy.injected.append(("lost", 1, time.time()))
            return None
        raw = struct.unpack_from(">I", rtp, 4)[0]
        out = int(round(self.clock.out(raw))) % 2**32
        self.last_out_ts = out
        struct.pack_into(">I", rtp, 4, out)
        if self.out_seq is None:
            self.out_seq = struct.unpack_from(">H", rtp, 2)[0]
            self.ssrc = bytes(rtp[8:12])
        else:
            self.out_seq = (self.out_seq + 1) % 65536
        struct.pack_into(">H", rtp, 2, self.out_seq)
        rtp[8:12] = self.ssrc
        return frame[:2] + struct.pack(">H", len(rtp)) + bytes(rtp)

    def _apply_pending(self) -> None:
        """At a frame boundary: apply the changes asked for since the last one (caller holds the lock)."""
        proxy = self.proxy
        for change in proxy.pending.pop(self, []):
            kind, value = change
            if kind == "shift":
                self.clock.rebase(shift=value * RTP_CLOCK)
            elif kind == "scale":
                self.clock.rebase(factor=value)
            elif kind == "drop":
                self.dropping = True
            elif kind == "undrop":
                self.dropping = False
            elif kind == "lose":
                self.losing = True

    def splice(self, frame: bytes, first: bool) -> None:
        """Send a packet of the other mount as if the camera had sent it."""
        if first:
            # Continue the timeline: the new mount's first frame one frame after the last one.
            raw = struct.unpack_from(">I", frame, 8)[0]
            step = RTP_CLOCK // 25
            self.clock = _Clock()
            self.clock.unwrapped = self.clock.in_base = self.clock.last_raw = raw
            self.clock.out_base = float(self.last_out_ts + step)
        message = self._video(frame, spliced=True)
        if message is not None:
            self._send(message)


class RtspProxy:
    """Serve ``rtsp://127.0.0.1:<port>/<path>`` for every path of the upstream server."""

    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        self.upstream_host, self.upstream_port = parts.hostname, parts.port or 554
        self.lock = threading.Lock()
        self.pending: dict[_Connection, list[tuple[str, float]]] = {}
        self.connections: list[_Connection] = []
        self.hold_until = 0.0
        self.lag_profile: tuple[float, float, float, float] | None = None  # (start, peak, build, drain)
        self.switched: str | None = None
        self.injected: list[tuple[str, float, float]] = []  # (kind, size, wall time)
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = self._listener.getsockname()[1]
        self._splicer: threading.Thread | None = None
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, upstream_url: str) -> str:
        """The proxied form of one upstream URL."""
        parts = urlsplit(upstream_url)
        return f"rtsp://127.0.0.1:{self.port}{parts.path}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            connection = _Connection(self, client)
            with self.lock:
                self.connections = [c for c in self.connections if c.alive] + [connection]
            threading.Thread(target=connection.run, daemon=True).start()

    def close(self) -> None:
        self._listener.close()
        self.switched = None
        for connection in list(self.connections):
            connection.close()

    # -- faults ---------------------------------------------------------------------------

    def _change(self, kind: str, value: float) -> None:
        with self.lock:
            for connection in self.connections:
                if connection.alive:
                    self.pending.setdefault(connection, []).append((kind, value))

    def shift(self, seconds: float) -> None:
        self._change("shift", seconds)
        self.injected.append(("backward" if seconds < 0 else "forward", seconds, time.time()))

    def scale(self, factor: float) -> None:
        self._change("scale", factor)
        self.injected.append(("drift", factor, time.time()))

    def hold(self, seconds: float) -> None:
        self.hold_until = time.monotonic() + seconds
        self.injected.append(("burst", seconds, time.time()))

    def lag(self, peak: float, build: float, drain: float) -> None:
        """From now on, delay what is sent by 0 rising to ``peak`` s over ``build`` s, then falling
        to 0 over ``drain`` s (slopes below 1, so the order of sending is the order received)."""
        if not (0 < peak < build and peak < drain):
            raise ValueError("the delay must change slower than time passes (peak < build, peak < drain)")
        self.lag_profile = (time.monotonic(), peak, build, drain)
        self.injected.append(("lag", peak, time.time()))

    def lag_at(self, now: float) -> float:
        """The delay (s) ``lag`` adds to a message received at monotonic time ``now``."""
        if self.lag_profile is None:
            return 0.0
        start, peak, build, drain = self.lag_profile
        into = now - start
        if into < build:
            return peak * into / build
        return max(0.0, peak * (1 - (into - build) / drain))

    def drop(self, seconds: float) -> None:
        self._change("drop", 1)
        self.injected.append(("gap", seconds, time.time()))
        threading.Timer(seconds, self._change, ("undrop", 1)).start()

    def lose_packet(self) -> None:
        """Lose one RTP packet: the first of the next picture that is not a keyframe (a sequence
        number goes missing, as over a lossy network; the picture is damaged)."""
        self._change("lose", 1)

    def switch_to(self, upstream_url: str) -> None:
        """Splice in another mount of the same server (same codec) from its next keyframe."""
        self.switched = upstream_url
        self._splicer = threading.Thread(target=self._splice, args=(upstream_url,), daemon=True)
        self._splicer.start()

    def _splice(self, upstream_url: str) -> None:
        try:
            self._splice_from(upstream_url)
        except (EOFError, OSError):
            pass  # the proxy or the client went away

    def _splice_from(self, upstream_url: str) -> None:
        connections = [c for c in self.connections if c.alive]
        with socket.create_connection((self.upstream_host, self.upstream_port), timeout=10) as sock:
            reader = sock.makefile("rb")
            session = _play(sock, reader, upstream_url)
            started = False
            while self.switched == upstream_url:
                kind, message = read_message(reader)
                if kind != "frame" or message[1] != 0:
                    continue
                if not started and not is_keyframe_start(message[16:]):
                    continue
                for connection in connections:
                    connection.splice(message, first=not started)
                started = True
            sock.sendall(_request("TEARDOWN", upstream_url, 9, session))


def _request(method: str, url: str, cseq: int, session: str | None = None, extra: str = "") -> bytes:
    lines = [f"{method} {url} RTSP/1.0", f"CSeq: {cseq}", "User-Agent: vms-test-proxy"]
    if session:
        lines.append(f"Session: {session}")
    if extra:
        lines.append(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _play(sock: socket.socket, reader, url: str) -> str:
    """DESCRIBE, SETUP (video, interleaved 0-1) and PLAY ``url``; return the session id."""
    sock.sendall(_request("DESCRIBE", url, 1, extra="Accept: application/sdp"))
    _, answer = read_message(reader)
    head, _, sdp = answer.partition(b"\r\n\r\n")
    control = None
    for line in sdp.decode().splitlines():
        if line.startswith("m=") and not line.startswith("m=video"):
            break
        if line.startswith("a=control:"):
            control = line.split(":", 1)[1]
    base = url.rstrip("/") + "/"
    for line in head.decode().split("\r\n"):
        if line.lower().startswith("content-base:"):
            base = line.split(":", 1)[1].strip()
    track = control if control and control.startswith("rtsp://") else base + (control or "")
    sock.sendall(_request("SETUP", track, 2, extra="Transport: RTP/AVP/TCP;unicast;interleaved=0-1"))
    _, answer = read_message(reader)
    session = next(line.split(":", 1)[1].split(";")[0].strip() for line in answer.decode().split("\r\n")
                   if line.lower().startswith("session:"))
    sock.sendall(_request("PLAY", base, 3, session))
    read_message(reader)
    return session


@contextmanager
def rtsp_proxy(upstream_url: str):
    proxy = RtspProxy(upstream_url)
    try:
        yield proxy
    finally:
        proxy.close()
