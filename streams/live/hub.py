"""Live viewing on one worker: a relay per camera stream, WebRTC sessions, limits and clean-up.

The hub lives on the asyncio loop of the web server (aiortc needs one). It never opens an RTSP
session: it is an output of the camera pipelines (``attach``/``detach``), and its relays subscribe to
their fan-outs, so one pull per camera stream serves the recorder and every viewer. A housekeeping task ends sessions whose browser went away and
unsubscribes relays nobody has watched for ``idle_seconds``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.rtcrtpparameters import RTCRtpCodecCapability

from vms.live.errors import (
    BadOffer,
    CameraInError,
    CameraNotFound,
    CodecNotSupported,
    NoPicture,
    SessionNotFound,
    StreamNotFound,
    TooManyConnecting,
    ViewerLimitReached,
)
from streams.fanout import PacketFanout
from streams.live.relay import LiveRelay
from streams.live.snapshot import SnapshotCache
from vms.live.gateway import Snapshot
from streams.live.track import B_FRAMES_REFUSED, PASSTHROUGH_CODECS, PassthroughTrack, RelayTrack
from streams.live.transcode import DECODABLE_CODECS, TranscodeTrack
from streams.pipeline import CameraPipeline
from streams.status import StreamState, StreamStatus
from vms.bus import Bus
from vms.config.live import LiveConfig
from vms.live.sessions import LIVE_SESSIONS_TOPIC, VIEWER_ENDED

log = logging.getLogger(__name__)

HOUSEKEEPING_SECONDS = 1.0
MDNS_CANDIDATE = re.compile(r"^a=candidate:\S+ \d+ \S+ \d+ \S+\.local \d+ .*$\r?\n?", re.M | re.I)
# Sending paused longer than this (camera offline) means the browser has nothing to report on.
MEDIA_FLOWING_SECONDS = 1.0


def h264_preferences() -> list[RTCRtpCodecCapability]:
    """H.264 (packetization-mode 1) only, constrained baseline first, with RTX for retransmissions."""
    codecs = RTCRtpSender.getCapabilities("video").codecs
    h264 = [
        c for c in codecs if c.mimeType.lower() == "video/h264" and str(c.parameters.get("packetization-mode")) == "1"
    ]
    h264.sort(key=lambda c: str(c.parameters.get("profile-level-id", "")).lower() != "42e01f")
    return h264 + [c for c in codecs if c.mimeType.lower() == "video/rtx"]


def strip_mdns_candidates(sdp: str) -> str:
    """Drop the browser's ``<uuid>.local`` host candidates from an offer.

    aiortc would hold the answer for about a second trying to resolve them by multicast DNS,
    which rarely crosses a LAN anyway. Without them nothing is lost: the browser checks our
    candidates, and its address is learnt from those checks (a peer-reflexive candidate).
    """
    return MDNS_CANDIDATE.sub("", sdp)


@dataclass(eq=False)
class LiveSession:
    """One viewer: a WHEP resource, its peer connection and its track."""

    id: str
    camera_id: str
    stream: str
    transcoded: bool
    pc: RTCPeerConnection
    track: RelayTrack
    relay: LiveRelay
    created_at: float = field(default_factory=time.monotonic)
    connected_at: float | None = None
    last_rtcp_at: float | None = None
    answer: str = ""
    owner: str = ""  # who asked for it (e.g. "user:5"): per-viewer limits, and ending them all at once

    def describe(self) -> dict[str, Any]:
        track = self.track
        return {
            "id": self.id,
            "camera_id": self.camera_id,
            "stream": self.stream,
            "transcoded": self.transcoded,
            "state": self.pc.connectionState,
            "frames_sent": track.frames_sent,
            "restarts": track.restarts,
            "keyframe_requests": track.keyframe_requests,
            "first_frame_seconds": (track.first_sent_at - self.created_at) if track.first_sent_at else None,
        }


class LiveHub:
    def __init__(self, config: LiveConfig, queue_packets: int, bus: Bus | None = None) -> None:
        """``queue_packets``: how many packets a relay's fan-out queue holds before dropping;
        ``bus``: where sessions the hub ends itself are announced (``vms.live.sessions``)."""
        self.config = config
        self.queue_packets = queue_packets
        self.bus = bus
        self._pipelines: dict[str, CameraPipeline] = {}  # the cameras this hub can show, by id
        self._pipelines_lock = threading.Lock()  # attach/detach run on the worker's thread
        self.snapshots = SnapshotCache(config.snapshot_cache_seconds)
        self._sessions: dict[str, LiveSession] = {}
        self._relays: dict[tuple[str, str], LiveRelay] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._housekeeping: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()

    # -- pipeline output ------------------------------------------------------------------

    def attach(self, pipeline: CameraPipeline) -> None:
        """A camera pipeline started: its streams may be watched."""
        with self._pipelines_lock:
            self._pipelines[pipeline.spec.id] = pipeline

    def detach(self, pipeline: CameraPipeline) -> None:
        """A camera pipeline stopped: its relays close at the next housekeeping pass."""
        with self._pipelines_lock:
            if self._pipelines.get(pipeline.spec.id) is pipeline:
                del self._pipelines[pipeline.spec.id]

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind to the running loop (idempotent; the web server's lifespan calls it)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            self._housekeeping = loop.create_task(self._housekeep(), name="live-housekeeping")

    async def aclose(self) -> None:
        """End every session and unsubscribe every relay (the web server is stopping)."""
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            await asyncio.gather(self._housekeeping, return_exceptions=True)
            self._housekeeping = None
        await asyncio.gather(*(self._close(s, "server stopping") for s in list(self._sessions.values())))
        await asyncio.gather(*self._closing, return_exceptions=True)
        self.close()

    def close(self) -> None:
        """Unsubscribe every relay; safe without a loop (after the web server has gone)."""
        for key in list(self._relays):
            self._relays.pop(key).close()

    # -- sessions -------------------------------------------------------------------------

    async def create_session(
        self, camera_id: str, offer_sdp: str, stream: str = "main", transcode: bool = False, owner: str = ""
    ) -> LiveSession:
        """Answer a browser's offer with a sendonly H.264 track of ``camera_id``'s ``stream``."""
        await self.start()
        self._pipeline(camera_id)  # an unknown camera is a 404 before it is a full server
        self._check_limits(camera_id, transcode)
        self._check_connecting(camera_id, owner)
        relay, pipeline = self._relay(camera_id, stream)
        await self._first_answer(pipeline, stream)
        self._check_codec(camera_id, stream, relay, pipeline, transcode)
        session_id = secrets.token_urlsafe(12)
        track_class = TranscodeTrack if transcode else PassthroughTrack
        track = track_class(f"{camera_id}/{stream}/{session_id}", self.config.viewer_queue_packets)
        # Explicit ICE servers: aiortc's default would ask Google's STUN server, which a closed
        # command-centre network cannot reach (gathering then stalls for 5 s).
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[RTCIceServer(url) for url in self.config.ice_servers]))
        session = LiveSession(session_id, camera_id, stream, transcode, pc, track, relay, owner=owner)
        self._sessions[session_id] = session  # counted against the limits from now on
        try:
            await self._negotiate(session, offer_sdp)
        except BaseException:
            await self._close(session, "negotiation failed")
            raise
        track.on_start = relay.attach
        track.on_restart = relay.restart
        pc.on("connectionstatechange", lambda: self._state_changed(session))
        log.info("live session %s: camera %s/%s%s", session_id, camera_id, stream, " (transcoded)" if transcode else "")
        return session

    async def close_session(self, session_id: str, camera_id: str | None = None) -> None:
        session = self._sessions.get(session_id)
        if session is None or (camera_id is not None and session.camera_id != camera_id):
            raise SessionNotFound(f"no live session '{session_id}'" + (f" of camera {camera_id}" if camera_id else ""))
        await self._close(session, VIEWER_ENDED)

    async def close_owner(self, owner: str) -> int:
        """End every session of ``owner`` now; returns how many."""
        mine = [s for s in self._sessions.values() if owner and s.owner == owner]
        await asyncio.gather(*(self._close(s, "the viewer's rights ended") for s in mine))
        return len(mine)

    def session(self, session_id: str) -> LiveSession | None:
        return self._sessions.get(session_id)

    def sessions(self) -> list[LiveSession]:
        return list(self._sessions.values())

    def relays(self) -> list[LiveRelay]:
        return list(self._relays.values())

    async def _negotiate(self, session: LiveSession, offer_sdp: str) -> None:
        pc = session.pc
        # The transceiver exists before the offer is applied so our codec preferences decide
        # the answer: H.264 even when the browser lists VP8 first.
        transceiver = pc.addTransceiver(session.track, direction="sendonly")
        transceiver.setCodecPreferences(h264_preferences())
        if not self.config.resolve_mdns_candidates:
            offer_sdp = strip_mdns_candidates(offer_sdp)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        except Exception as exc:
            if "send parameters" in str(exc):
                raise BadOffer(
                    "the offer lists no H.264 with packetization-mode=1; live video is H.264 passthrough"
                ) from None
            raise BadOffer(f"the SDP offer cannot be used: {exc}") from None
        if transceiver.mid is None:
            raise BadOffer("the SDP offer has no video section")
        await pc.setLocalDescription(await pc.createAnswer())
        session.answer = pc.localDescription.sdp
        _watch_sender(transceiver.sender, session)

    def _state_changed(self, session: LiveSession) -> None:
        state = session.pc.connectionState
        if state == "connected" and session.connected_at is None:
            session.connected_at = time.monotonic()
        elif state in ("failed", "closed"):
            self._close_soon(session, f"connection {state}")

    def _close_soon(self, session: LiveSession, reason: str) -> None:
        if session.id in self._sessions and self._loop is not None:
            task = self._loop.create_task(self._close(session, reason))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def _close(self, session: LiveSession, reason: str) -> None:
        if self._sessions.pop(session.id, None) is None:
            return
        log.info("live session %s of camera %s ended: %s", session.id, session.camera_id, reason)
        self._announce_end(session, reason)
        session.relay.detach(session.track)
        session.track.end(reason)
        try:
            await session.pc.close()
        except Exception:
            log.exception("closing the peer connection of live session %s failed", session.id)

    def _announce_end(self, session: LiveSession, reason: str) -> None:
        # The API that started the session audits its end; it only hears of ends it did not ask for.
        if self.bus is None or reason == VIEWER_ENDED:
            return
        try:
            self.bus.publish(LIVE_SESSIONS_TOPIC, {"phase": "ended", "session": session.id, "camera_id": session.camera_id,
                                              "stream": session.stream, "reason": reason})
        except Exception:
            log.exception("announcing the end of live session %s failed", session.id)

    # -- relays ---------------------------------------------------------------------------

    def _pipeline(self, camera_id: str) -> CameraPipeline:
        with self._pipelines_lock:
            pipeline = self._pipelines.get(camera_id)
        if pipeline is None:
            raise CameraNotFound(f"no camera '{camera_id}' is live on this server (unknown or disabled)")
        return pipeline

    def _relay(self, camera_id: str, stream: str) -> tuple[LiveRelay, CameraPipeline]:
        pipeline = self._pipeline(camera_id)
        try:
            fanout = pipeline.fanout(stream)
        except LookupError:
            raise StreamNotFound(f"camera '{camera_id}' has no {stream} stream configured") from None
        key = (camera_id, stream)
        relay = self._relays.get(key)
        if relay is not None and (relay.closed or relay.fanout is not fanout):
            # The camera was edited or restarted: its old relay's viewers reconnect to the new one.
            self._relays.pop(key).close()
            relay = None
        if relay is None:
            assert self._loop is not None
            relay = LiveRelay(
                camera_id,
                stream,
                fanout,
                self._loop,
                queue_packets=self.queue_packets,
                max_gop_seconds=self.config.max_gop_seconds,
                max_gop_bytes=self.config.max_gop_megabytes * 1024 * 1024,
            )
            self._relays[key] = relay
        relay.touch()
        return relay, pipeline

    async def _first_answer(self, pipeline: CameraPipeline, stream: str) -> None:
        """Wait (at most ``offer_wait_seconds``) for a stream that has never answered yet, e.g. one
        started on demand by this viewer, so a camera that refuses us is a 503 with its reason
        rather than a 201 followed by nothing."""
        deadline = time.monotonic() + self.config.offer_wait_seconds
        while time.monotonic() < deadline:
            status = _status(pipeline, stream)
            if status is not None and (status.state is not StreamState.CONNECTING or status.codec is not None):
                return
            await asyncio.sleep(0.05)

    def _check_codec(
        self, camera_id: str, stream: str, relay: LiveRelay, pipeline: CameraPipeline, transcode: bool
    ) -> None:
        info = relay.info
        status = _status(pipeline, stream)
        if status is not None and status.state is StreamState.ERROR:
            # Answering 201 would leave the browser waiting for pictures that cannot come.
            raise CameraInError(f"camera {camera_id} ({stream}) cannot be played: {status.error or 'error'}")
        codec = info.codec if info is not None else (status.codec if status is not None else None)
        if codec is None:
            return  # never connected yet: the track ends itself if the codec turns out unusable
        if transcode:
            if codec not in DECODABLE_CODECS:
                raise CodecNotSupported(f"camera {camera_id} sends {codec}, which the server cannot decode")
        elif codec not in PASSTHROUGH_CODECS:
            raise CodecNotSupported(
                f"camera {camera_id} sends {codec}; browsers need H.264 for live passthrough. "
                f"Set the camera's {stream} stream to H.264, or ask for ?transcode=1 to re-encode on the server"
            )
        elif relay.fanout.b_frames:
            raise CodecNotSupported(B_FRAMES_REFUSED.format(camera=f"{camera_id} ({stream})"))

    def _check_limits(self, camera_id: str, transcode: bool) -> None:
        sessions = list(self._sessions.values())
        config = self.config
        if len(sessions) >= config.max_viewers_total:
            raise ViewerLimitReached(f"the server already serves its limit of {config.max_viewers_total} live viewers")
        if sum(s.camera_id == camera_id for s in sessions) >= config.max_viewers_per_camera:
            raise ViewerLimitReached(
                f"camera {camera_id} already has its limit of {config.max_viewers_per_camera} live viewers"
            )
        if transcode and sum(s.transcoded for s in sessions) >= config.max_transcoded_viewers:
            raise ViewerLimitReached(
                f"the server already re-encodes its limit of {config.max_transcoded_viewers} live viewers"
            )

    def _check_connecting(self, camera_id: str, owner: str) -> None:
        """Offers that never connect hold viewer slots until connect_timeout_seconds: one viewer
        may hold only a few such sessions, so nobody can fill a camera's slots alone."""
        if not owner:
            return
        connecting = [s for s in self._sessions.values() if s.owner == owner and s.connected_at is None]
        config = self.config
        if len(connecting) >= config.max_connecting_per_viewer:
            raise TooManyConnecting(
                f"you already have {len(connecting)} live sessions still connecting; wait for them or close some"
            )
        if sum(s.camera_id == camera_id for s in connecting) >= config.max_connecting_per_viewer_camera:
            raise TooManyConnecting(
                f"you already have {config.max_connecting_per_viewer_camera} live sessions of camera {camera_id} "
                "still connecting"
            )

    # -- snapshots ------------------------------------------------------------------------

    async def snapshot(self, camera_id: str, stream: str = "main", width: int | None = None) -> Snapshot:
        """The newest keyframe as JPEG, ``width`` pixels wide (aspect kept) if given."""
        await self.start()
        relay, pipeline = self._relay(camera_id, stream)
        keyframe = relay.latest_keyframe()
        deadline = time.monotonic() + self.config.snapshot_wait_seconds
        while keyframe is None and time.monotonic() < deadline and _may_deliver(pipeline, stream):
            await asyncio.sleep(0.05)
            keyframe = relay.latest_keyframe()
        if keyframe is None:
            status = _status(pipeline, stream)
            why = f" ({status.state.value}: {status.error})" if status is not None and status.error else ""
            raise NoPicture(f"no picture from camera {camera_id} yet{why}")
        info, packet = keyframe
        relay.touch()
        return await asyncio.to_thread(self.snapshots.get, info, packet, width)

    # -- housekeeping ---------------------------------------------------------------------

    async def _housekeep(self) -> None:
        while True:
            await asyncio.sleep(HOUSEKEEPING_SECONDS)
            try:
                await self._sweep(time.monotonic())
            except Exception:
                log.exception("live housekeeping failed")

    async def _sweep(self, now: float) -> None:
        for session in list(self._sessions.values()):
            reason = self._gone(session, now)
            if reason is not None:
                await self._close(session, reason)
        watched = {id(s.relay) for s in self._sessions.values()}
        for key, relay in list(self._relays.items()):
            idle = self.config.idle_seconds
            keep_warm = (self.config.prewarm and key[1] == "main") or self._long_gop(relay.fanout)
            if relay.closed or (
                id(relay) not in watched
                and not keep_warm
                and idle is not None
                and now - relay.last_used > idle
            ):
                self._relays.pop(key).close()
        with self._pipelines_lock:
            pipelines = list(self._pipelines.items())
        for camera_id, pipeline in pipelines:
            for stream, fanout in pipeline.fanouts().items():
                if (self.config.prewarm and stream == "main") or self._long_gop(fanout):
                    try:
                        self._relay(camera_id, stream)
                    except Exception:
                        log.exception("keeping a GOP of camera %s (%s) ready failed", camera_id, stream)

    def _long_gop(self, fanout: PacketFanout) -> bool:
        """A stream whose GOP is so long that a viewer without the cached GOP would wait for it."""
        interval = fanout.keyframe_interval
        return interval is not None and interval > self.config.warm_gop_seconds

    def _gone(self, session: LiveSession, now: float) -> str | None:
        config = self.config
        if session.pc.connectionState in ("failed", "closed"):
            return f"connection {session.pc.connectionState}"
        if session.connected_at is None:
            if now - session.created_at > config.connect_timeout_seconds:
                return f"the browser did not connect within {config.connect_timeout_seconds:g} s"
            return None
        track = session.track
        if track.readyState != "live":
            return track.end_reason or "track ended"
        flowing = track.last_sent_at is not None and now - track.last_sent_at < MEDIA_FLOWING_SECONDS
        if flowing and track.resumed_at is not None:
            heard = max(session.last_rtcp_at or session.connected_at, track.resumed_at)
            if now - heard > config.viewer_timeout_seconds:
                return f"no receiver report from the browser for {now - heard:.0f} s"
        return None

    def describe(self) -> dict[str, Any]:
        """Sessions and relays; safe from any thread (the metrics collector calls it)."""
        sessions, relays = list(self._sessions.values()), list(self._relays.values())
        return {
            "sessions": [s.describe() for s in sessions],
            "relays": [
                {
                    "camera_id": r.camera_id,
                    "stream": r.stream,
                    "viewers": r.viewers,
                    "gop_packets": r.gop_packets,
                    "b_frames": r.b_frames,
                }
                for r in relays
            ],
        }


def _status(pipeline: CameraPipeline, stream: str) -> StreamStatus | None:
    return next((s for s in pipeline.statuses() if s.stream == stream), None)


def _may_deliver(pipeline: CameraPipeline, stream: str) -> bool:
    """Whether waiting for a keyframe makes sense: the stream is up or still connecting."""
    status = _status(pipeline, stream)
    return status is not None and status.state.value in ("connecting", "online")


def _watch_sender(sender: RTCRtpSender, session: LiveSession) -> None:
    """Hook the two places aiortc 1.16 surfaces receiver feedback on a sender.

    Every RTCP packet for our SSRC goes through ``_handle_rtcp_packet`` (receiver reports prove
    the browser is still there); PLI and FIR end in ``_send_keyframe``, which for pre-encoded
    packets would do nothing, so a passthrough track answers them from the GOP cache instead.
    """
    handle = sender._handle_rtcp_packet

    async def handle_rtcp(packet) -> None:
        session.last_rtcp_at = time.monotonic()
        await handle(packet)

    sender._handle_rtcp_packet = handle_rtcp
    if isinstance(session.track, PassthroughTrack):
        sender._send_keyframe = session.track.request_keyframe
