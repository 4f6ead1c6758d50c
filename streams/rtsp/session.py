"""One RTSP session over TCP: OPTIONS, DESCRIBE, SETUP (interleaved), PLAY, keep-alive, TEARDOWN.

While playing, two timers keep the session alive the ways cameras expect: RTCP receiver
reports on the interleaved RTCP channel at RFC 3550's interval (streams.rtsp.rtcp), and an
RTSP keep-alive request well within the Session header's ``timeout=`` (RFC 2326 12.37):
GET_PARAMETER when the server's Public header lists it (or lists nothing), else OPTIONS.

Everything the server might ask that this client does not do (TLS, UDP only, another codec,
another authentication scheme) raises ``Unsupported`` so the caller can hand the camera to
FFmpeg; answers that are the camera's or the configuration's fault raise ``RtspStatusError``.
"""

from __future__ import annotations

import asyncio
import re
import time
from urllib.parse import urljoin, urlsplit

from streams.rtsp.auth import AuthUnsupported, Credentials
from streams.rtsp.connection import RtspConnection
from streams.rtsp.messages import Response
from streams.rtsp.rtcp import Reception, ReceiverReports, report_interval
from streams.rtsp.rtp import AccessUnitAssembler, UnitSink
from streams.rtsp.sdp import SdpUnsupported, VideoTrack, video_track

MAX_REDIRECTS = 3
DEFAULT_SESSION_TIMEOUT = 60.0  # seconds, RFC 2326 12.37 when the server names none
# A keep-alive goes out after this share of the session timeout: its answer (bounded by the
# answer timeout) and a busy loop still land well inside the timeout.
KEEP_ALIVE_SHARE = 0.5


class Unsupported(Exception):
    """The camera needs something this client does not do; FFmpeg can take the stream."""


class RtspStatusError(Exception):
    """The server refused a request: ``status`` is the RTSP status code (401, 404, 461, ...)."""

    def __init__(self, method: str, status: int, reason: str) -> None:
        super().__init__(f"{method} answered {status} {reason}")
        self.method = method
        self.status = status


class RtspSession:
    """Pull the video track of ``url`` (credential-free) and hand its access units to a sink.

    ``timeout`` bounds each request's answer, in seconds. ``read_interval`` paces reads once
    playing (see streams.rtsp.connection).
    """

    def __init__(self, url: str, username: str | None = None, password: str | None = None,
                 timeout: float = 10.0, read_interval: float = 0.0) -> None:
        self.url = url
        self.timeout = timeout
        self.read_interval = read_interval
        self._credentials = Credentials(username or "", password or "") if username is not None else None
        self._connection: RtspConnection | None = None
        self._session_id = ""
        self._keep_alive: asyncio.Task[None] | None = None
        self._reporting: asyncio.Task[None] | None = None
        self._public: set[str] | None = None  # methods the server's Public header lists (None: no header)
        self._rtcp_channel = 1
        self.reports = ReceiverReports()
        self.track: VideoTrack | None = None
        self.assembler: AccessUnitAssembler | None = None

    async def play(self, sink: UnitSink) -> VideoTrack:
        """Set the session up and start it; access units then go to ``sink`` from the event loop.

        Raises Unsupported, RtspStatusError, OSError, TimeoutError.
        """
        description = await self._describe()
        base = description.header("content-base") or description.header("content-location") or self.url
        try:
            track = video_track(description.body.decode("utf-8", "replace"), base)
        except SdpUnsupported as exc:
            raise Unsupported(str(exc)) from None
        setup = await self._request("SETUP", track.control, {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})
        session = setup.header("session")
        self._session_id = session.split(";")[0].strip()
        match = re.search(r"interleaved=(\d+)(?:-(\d+))?", setup.header("transport"))
        rtp_channel = int(match.group(1)) if match else 0
        rtcp_channel = self._rtcp_channel = int(match.group(2)) if match and match.group(2) else rtp_channel + 1
        timeout = re.search(r"timeout=(\d+)", session)
        session_timeout = float(timeout.group(1)) if timeout else DEFAULT_SESSION_TIMEOUT
        self.assembler = assembler = AccessUnitAssembler(track.codec, track.payload_type, sink)
        push = assembler.push
        reports = self.reports

        def on_frame(channel: int, payload: bytes) -> None:
            if channel == rtp_channel:
                push(payload)
            elif channel == rtcp_channel:  # the camera's sender reports: a few a second at most
                reports.sender_report(payload, time.monotonic())

        connection = self._live_connection()
        connection.on_frame = on_frame
        connection.on_read_done = assembler.read_done
        await self._request("PLAY", self._session_url(base), {"Range": "npt=0.000-"})
        connection.pace(self.read_interval)
        self.track = track
        loop = asyncio.get_running_loop()
        self._keep_alive = loop.create_task(self._keep_alive_loop(base, session_timeout))
        self._reporting = loop.create_task(self._report_loop())
        return track

    def connection_closed(self) -> asyncio.Future[None]:
        """Done when the server ends the stream (None) or it fails (the exception that ended it)."""
        return self._live_connection().closed

    async def close(self) -> None:
        """RTCP BYE and TEARDOWN (best effort, briefly), and close the connection."""
        for task in (self._keep_alive, self._reporting):
            if task is not None:
                task.cancel()
        connection = self._connection
        if connection is None:
            return
        if self._reporting is not None and not connection.closed.done():
            connection.send_frame(self._rtcp_channel, self.reports.goodbye(self._reception(), time.monotonic()))
        if self._session_id and not connection.closed.done():
            try:
                await asyncio.wait_for(self._request("TEARDOWN", self._session_url(self.url), {}), 1.0)
            except Exception:  # the stream is closing anyway; a camera that does not answer is fine
                pass
        connection.close()
        if not connection.closed.done():
            connection.closed.cancel()

    # -- internals ------------------------------------------------------------------------

    def _live_connection(self) -> RtspConnection:
        if self._connection is None:
            raise ConnectionError("RTSP session not connected")
        return self._connection

    def _session_url(self, base: str) -> str:
        return base.rstrip("/") if base else self.url

    async def _connect(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "rtsp":
            raise Unsupported(f"{parts.scheme} (TLS) is not supported by the built-in client")
        if self._connection is not None:
            self._connection.close()
        self._connection = await RtspConnection.open(parts.hostname or "", parts.port or 554, self.timeout)

    async def _describe(self) -> Response:
        url = self.url
        for _ in range(MAX_REDIRECTS + 1):
            await self._connect(url)
            answer = await self._request("OPTIONS", url, {}, accept={200, 301, 302, 303, 305, 307, 404, 405, 501})
            self._public = None  # the server answering now is the one that counts (redirects)
            if answer.status == 200 and answer.header("public"):
                self._public = {method.strip().upper() for method in answer.header("public").split(",")}
            if answer.status not in (301, 302, 303, 305, 307):
                answer = await self._request("DESCRIBE", url, {"Accept": "application/sdp"},
                                             accept={200, 301, 302, 303, 305, 307})
            if answer.status == 200:
                self.url = url
                return answer
            location = answer.header("location")
            if not location:
                raise RtspStatusError("DESCRIBE", answer.status, "redirect without Location")
            url = urljoin(url, location)
        raise RtspStatusError("DESCRIBE", 310, "too many redirects")

    async def _request(self, method: str, url: str, headers: dict[str, str],
                       accept: set[int] | frozenset[int] = frozenset({200})) -> Response:
        connection = self._live_connection()
        for attempt in (1, 2):
            sent = dict(headers)
            if self._session_id:
                sent["Session"] = self._session_id
            if self._credentials is not None and self._credentials.ready:
                sent["Authorization"] = self._credentials.header(method, url) or ""
            answer = await asyncio.wait_for(connection.send(method, url, sent), self.timeout)
            if answer.status == 401 and attempt == 1 and self._credentials is not None:
                try:
                    self._credentials.challenge(answer.header("www-authenticate"))
                except AuthUnsupported as exc:
                    raise Unsupported(str(exc)) from None
                continue
            if answer.status == 461 and method == "SETUP":
                raise Unsupported("the camera refuses RTP over TCP (461)")
            if answer.status not in accept:
                raise RtspStatusError(method, answer.status, answer.reason)
            return answer
        raise RtspStatusError(method, 401, "Unauthorized")

    def _reception(self) -> Reception | None:
        return self.assembler.reception() if self.assembler is not None else None

    async def _report_loop(self) -> None:
        """Send a receiver report at RFC 3550's randomised interval until the session ends."""
        connection = self._live_connection()
        first = True
        while not connection.closed.done():
            await asyncio.sleep(report_interval(first))
            first = False
            connection.send_frame(self._rtcp_channel, self.reports.report(self._reception(), time.monotonic()))

    async def _keep_alive_loop(self, base: str, session_timeout: float) -> None:
        """An RTSP request every ``KEEP_ALIVE_SHARE`` of the session timeout."""
        method = "GET_PARAMETER" if self._public is None or "GET_PARAMETER" in self._public else "OPTIONS"
        while True:
            await asyncio.sleep(max(1.0, session_timeout * KEEP_ALIVE_SHARE))
            try:
                await self._request(method, self._session_url(base), {})
            except RtspStatusError:
                method = "OPTIONS"  # a camera refusing GET_PARAMETER (405/501) without saying so in Public
            except Exception:
                # No answer or a closed connection: the stream's own end (or silence) is what
                # ingest acts on; a camera that streams but ignores keep-alives goes on.
                if self._live_connection().closed.done():
                    return
