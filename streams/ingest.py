"""Pull one RTSP stream of one camera with PyAV and publish its packets, never decoding.

The ingest session owns the connection and its retry: it reconnects with capped exponential
backoff and jitter, and tells consumers only "stream started", "packet" and "stream ended".
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Iterator
from urllib.parse import urlsplit

import av

from streams.errors import RECORDABLE_CODECS, StreamUnusable, describe_stream_error
from streams.fanout import PacketFanout
from streams.nal import has_parameter_sets, is_annex_b
from streams.packets import MediaPacket, StreamEnd, StreamInfo
from streams.status import RateMeter, StreamState, StreamStatus
from vms.cameras.rtsp_url import mask_credentials, validate_rtsp_url, with_credentials
from vms.config.storage import IngestConfig

log = logging.getLogger(__name__)


@dataclass
class _Unit:
    data: bytes
    pts: int
    dts: int
    keyframe: bool


def _as_annex_b(extradata: bytes) -> bytes:
    # RTSP gives Annex B extradata; anything else (avcC from a file) is not ours to fix here.
    return extradata if is_annex_b(extradata) else b""

# Wall-clock anchor is re-taken when media time and the system clock disagree by more than this.
MAX_CLOCK_SKEW_SECONDS = 5.0
STATUS_INTERVAL_SECONDS = 2.0


@dataclass(frozen=True)
class StreamSource:
    """Where one stream of a camera comes from. ``url`` is credential-free and safe to log."""

    camera_id: str
    stream: str
    url: str
    username: str | None = None
    password: str | None = None

    def __post_init__(self) -> None:
        validate_rtsp_url(self.url)

    @property
    def where(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.hostname}:{parts.port or (322 if parts.scheme == 'rtsps' else 554)}"

    def mask(self, text: str) -> str:
        return mask_credentials(text, self.password)


class IngestSession:
    """A thread that keeps one stream connected and publishes what it receives."""

    def __init__(
        self,
        source: StreamSource,
        fanout: PacketFanout,
        config: IngestConfig,
        on_status: Callable[[StreamStatus], None] = lambda status: None,
    ) -> None:
        self.source = source
        self.fanout = fanout
        self.config = config
        self.status = StreamStatus(camera_id=source.camera_id, stream=source.stream)
        self._on_status = on_status
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"ingest-{source.camera_id}-{source.stream}", daemon=True
        )
        self._meter = RateMeter()
        self._last_status_at = 0.0

    def start(self) -> "IngestSession":
        self._thread.start()
        return self

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self._thread.join(timeout)

    @property
    def _answer_timeout(self) -> float:
        # FFmpeg's socket timeout fires on a silent camera before PyAV's open timeout does.
        return min(self.config.open_timeout_seconds, self.config.read_timeout_seconds)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    # -- the retry loop -------------------------------------------------------------------

    def _run(self) -> None:
        self._publish_status(time.time())  # "connecting": the camera is known and being reached
        backoff = self.config.backoff_initial_seconds
        while not self._stop.is_set():
            if self.status.state not in (StreamState.OFFLINE, StreamState.ERROR):
                self._set_state(StreamState.CONNECTING)  # a retry keeps showing why it failed
            started_packets = self.status.packets
            try:
                self._pull_once()
                message, config_problem = f"camera at {self.source.where} ended the stream", False
            except Exception as exc:  # every failure of one session is reported, none escapes
                message, config_problem = describe_stream_error(exc, self.source.where, self._answer_timeout)
                message = self.source.mask(message)
            if self._stop.is_set():
                break
            if self.status.packets > started_packets:
                backoff = self.config.backoff_initial_seconds  # it worked for a while: retry fast
            state = StreamState.ERROR if config_problem else StreamState.OFFLINE
            self._set_state(state, message)
            log.warning("camera %s/%s %s: %s", self.source.camera_id, self.source.stream, state.value, message)
            delay = backoff * random.uniform(0.8, 1.2)
            backoff = min(backoff * 2, self.config.backoff_max_seconds)
            self.status.reconnects += 1
            self._stop.wait(delay)
        self._set_state(StreamState.STOPPED)

    def _pull_once(self) -> None:
        container = self._open()
        session_started = False
        try:
            if not container.streams.video:
                raise StreamUnusable(f"camera at {self.source.where} sends no video track (audio only?)")
            video = container.streams.video[0]
            codec = video.codec_context.name
            if codec not in RECORDABLE_CODECS:
                raise StreamUnusable(
                    f"camera at {self.source.where} sends {codec}; only H.264 and H.265 can be recorded "
                    "without re-encoding (set the camera to H.264)"
                )
            if not video.codec_context.width or not video.codec_context.height:
                raise StreamUnusable(f"camera at {self.source.where} sends video without a known picture size")
            session = self.status.session + 1
            info = StreamInfo(
                camera_id=self.source.camera_id,
                stream=self.source.stream,
                session=session,
                codec=codec,
                width=video.codec_context.width,
                height=video.codec_context.height,
                time_base=Fraction(video.time_base),
                fps=float(video.average_rate) if video.average_rate else None,
                extradata=bytes(video.codec_context.extradata or b""),
            )
            self.status.session = session
            self.status.codec, self.status.width, self.status.height = codec, info.width, info.height
            self.fanout.publish(info)
            session_started = True
            self._pump(container, video, info)
        finally:
            if session_started:
                reason = "stopped" if self._stop.is_set() else "connection lost"
                self.fanout.publish(StreamEnd(self.source.camera_id, self.source.stream, self.status.session, reason))
            container.close()

    def _open(self, video_only: bool = True) -> av.container.InputContainer:
        """Open the RTSP session; audio is not even set up, as nothing here records it."""
        url = with_credentials(self.source.url, self.source.username, self.source.password)
        options = {"rtsp_transport": "tcp", "timeout": str(int(self.config.read_timeout_seconds * 1_000_000))}
        if video_only:
            options["allowed_media_types"] = "video"
        started = time.monotonic()
        try:
            return av.open(
                url,
                format="rtsp",
                options=options,
                # Reads are bounded by FFmpeg's own socket timeout (the "timeout" option): PyAV's
                # read timeout would run a Python callback on every read, ~10 % more CPU.
                timeout=(self.config.open_timeout_seconds, None),
            )
        except av.error.HTTPClientError:
            # A camera with no video track refuses to PLAY an empty selection with an odd
            # 4xx; look again with every track to say what is really wrong.
            if video_only and self._has_no_video():
                raise StreamUnusable(f"camera at {self.source.where} sends no video track (audio only?)") from None
            raise
        except av.error.FFmpegError as exc:
            # PyAV's timeout interrupts FFmpeg, which then reports "invalid data" or "exit".
            if time.monotonic() - started >= self._answer_timeout * 0.9:
                raise TimeoutError(str(exc)) from None
            raise

    def _has_no_video(self) -> bool:
        try:
            with self._open(video_only=False) as container:
                return not container.streams.video
        except Exception:
            return False

    def _pump(self, container: av.container.InputContainer, video: av.video.stream.VideoStream, info: StreamInfo) -> None:
        anchor: tuple[float, int] | None = None  # (wall seconds, pts) of the first keyframe
        last_dts: int | None = None
        self._meter.reset()
        for unit in self._access_units(container, video, info):
            if self._stop.is_set():
                return
            if anchor is None and not unit.keyframe:
                continue  # start every session at a keyframe so it decodes from its first packet
            dts, pts = unit.dts, unit.pts
            if last_dts is not None and dts <= last_dts:
                # Non-monotonic DTS would make the MP4 muxer refuse the packet.
                dts = last_dts + 1
                pts = max(pts, dts)
            last_dts = dts
            now = time.time()
            wall = self._wall_time(anchor, pts, info.time_base, now)
            if anchor is None or abs(wall - now) > MAX_CLOCK_SKEW_SECONDS:
                anchor = (now, pts)
                wall = now
            data = unit.data
            if unit.keyframe and info.extradata and not has_parameter_sets(data, info.codec):
                # Cameras that send SPS/PPS only in the SDP would leave every consumer's
                # keyframes undecodable; repeat the SDP's parameter sets in-band.
                data = _as_annex_b(info.extradata) + data
            self.fanout.publish(
                MediaPacket(
                    session=info.session,
                    data=data,
                    pts=pts,
                    dts=dts,
                    time_base=info.time_base,
                    keyframe=unit.keyframe,
                    wall_time=wall,
                )
            )
            self._count(now, len(data))

    @staticmethod
    def _access_units(container: av.container.InputContainer, video: av.video.stream.VideoStream,
                      info: StreamInfo) -> Iterator[_Unit]:
        """Demuxed packets joined into whole access units (one picture each).

        RTSP demuxing can hand one picture over as several packets with the same timestamps
        (e.g. one per slice, with parameter sets before each); the recorder and browsers want
        one access unit per frame, so consecutive packets with equal PTS and DTS are joined.
        """
        pending: _Unit | None = None
        for packet in container.demux(video):
            if packet.dts is None and packet.pts is None:
                continue  # parameter sets before the first picture, or the flush packet at the end
            dts = packet.dts if packet.dts is not None else packet.pts
            pts = packet.pts if packet.pts is not None else dts
            if pending is not None and pending.dts == dts and pending.pts == pts:
                pending.data += bytes(packet)
                pending.keyframe = pending.keyframe or packet.is_keyframe
                continue
            if pending is not None:
                yield pending
            pending = _Unit(bytes(packet), pts, dts, packet.is_keyframe)
        # The stream ended under us: the last access unit may have been cut mid-picture, and
        # a recorded half picture is a corrupt frame. One frame is the cheaper loss.

    @staticmethod
    def _wall_time(anchor: tuple[float, int] | None, pts: int, time_base: Fraction, now: float) -> float:
        if anchor is None:
            return now
        wall0, pts0 = anchor
        return wall0 + float((pts - pts0) * time_base)

    # -- status ---------------------------------------------------------------------------

    def _count(self, now: float, size: int) -> None:
        self.status.packets += 1
        self.status.last_packet_at = now
        self._meter.add(now, size)
        if self.status.state is not StreamState.ONLINE:
            self._set_state(StreamState.ONLINE)
        elif now - self._last_status_at >= STATUS_INTERVAL_SECONDS:
            self._publish_status(now)

    def _set_state(self, state: StreamState, error: str | None = None) -> None:
        changed = state is not self.status.state or error != self.status.error
        if changed:
            self.status.state = state
            self.status.error = error
            self.status.since = time.time()
            if state is not StreamState.ONLINE:
                self.status.fps = self.status.bitrate_bps = 0.0
            self._publish_status(time.time())

    def _publish_status(self, now: float) -> None:
        self._last_status_at = now
        if self.status.state is StreamState.ONLINE:
            self.status.fps, self.status.bitrate_bps = self._meter.rates(now)
        try:
            self._on_status(self.status)
        except Exception:
            log.exception("status listener failed for camera %s", self.source.camera_id)
