"""Pull one RTSP stream of one camera and publish its packets, never decoding.

The RTSP client is FFmpeg's (PyAV) or, with ``rtsp_client: builtin`` (the camera's, else
``ingest.rtsp_client``), our own (streams/ingest_builtin, streams/rtsp), which hands over to
FFmpeg for any camera it cannot serve.

The ingest session owns the connection and its retry: it reconnects with capped exponential
backoff and jitter, and tells consumers only "stream started", "packet" and "stream ended".
"""

from __future__ import annotations

import logging
import random
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from fractions import Fraction
from typing import Any, Callable, ContextManager, cast
from urllib.parse import urlsplit

import av

from streams.access_units import AccessUnit, LostPicture, access_units
from streams.errors import RECORDABLE_CODECS, StreamUnusable, classify_stream_error
from streams.fanout import PacketFanout
from streams.nal import has_parameter_sets, is_annex_b
from streams.packets import Discontinuity, MediaPacket, StreamEnd, StreamInfo
from streams.parameter_sets import ParameterSetWatch, picture_size
from streams.status import RateMeter, StreamState, StreamStatus
from streams.clock_steps import Ready, StepSplicer
from streams.decode_order import B_FRAME_DEPTH, DecodeOrder
from streams.timeline import JUMP_SECONDS, ClockEvent, MediaTimeline, Placement
from streams.ingest_builtin import BuiltinIngest, Feed
from streams.rtsp.describe import Described
from streams.transport import TransportChoice
from vms.cameras.rtsp_url import mask_credentials, validate_rtsp_url, with_credentials
from vms.config.storage import IngestConfig

log = logging.getLogger(__name__)


def _as_annex_b(extradata: bytes) -> bytes:
    # RTSP gives Annex B extradata; anything else (avcC from a file) is not ours to fix here.
    return extradata if is_annex_b(extradata) else b""

DISCONTINUITY_MEANING = {
    "backward": "camera clock stepped back; frames continue after the previous ones",
    "forward": "camera clock jumped forward; frames continue after the previous ones",
    "drift": "camera clock drifts against ours; slewed, no gap",
    "burst": "nothing arrived for a while, then a burst; frames keep their camera spacing",
    "gap": "frames are missing; recording resumes at the next keyframe",
    "lost": "a picture was lost (FFmpeg's RTSP demuxer gave it no timestamps after a burst, or the "
            "built-in client received it damaged); it and the pictures depending on it are left out, "
            "recording resumes at the next keyframe",
    "duplicate": "a picture came with the timestamp of a recent one (counted, logged once per session); "
                 "kept just after the picture before it, not taken for a B-frame",
}
STATUS_INTERVAL_SECONDS = 2.0
# A session reading a live stream sees a stop at its next access unit (40 ms at 25 fps); one still
# reading after this long is blocked in a read of a camera gone silent, which only FFmpeg's socket
# timeout ends (``read_timeout_seconds``, 10 s by default; PyAV's interrupt callback would cost
# ~10 % CPU on every read). Whatever that read returns would come after the stop, so ``stop``
# returns and the thread ends on its own at the timeout: a worker's stop (and a lost lease) no
# longer waits the full read timeout for a stalled camera (decision 168).
STOP_WAIT_SECONDS = 1.0
DRIFT_LOG_SECONDS = 60.0  # drift reports of one stream are logged at most this often (all counted)


@dataclass(frozen=True)
class StreamSource:
    """Where one stream of a camera comes from. ``url`` is credential-free and safe to log."""

    camera_id: str
    stream: str
    url: str
    username: str | None = None
    password: str | None = None
    transport: str = "auto"  # "auto" (TCP, then UDP on 461), "tcp" or "udp": see streams.transport
    rtsp_client: str | None = None  # "ffmpeg", "builtin"; None: ingest.rtsp_client (streams.ingest_builtin)

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
        open_gate: ContextManager[object] = nullcontext(),
    ) -> None:
        self.source = source
        # Held while the RTSP session opens: 120 cameras opening at once timed out (issue 11).
        self._open_gate = open_gate
        self.fanout = fanout
        self.config = config
        self.status = StreamStatus(camera_id=source.camera_id, stream=source.stream)
        self._on_status = on_status
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"ingest-{source.camera_id}-{source.stream}", daemon=True
        )
        self._meter = RateMeter()
        self._drift_logged_at = -DRIFT_LOG_SECONDS  # monotonic time of the last drift line logged
        self._last_status_at = 0.0
        self._transport = TransportChoice(source.transport, source.where)
        # Where the previous session's frames ended on our clock: the next one never overlaps it.
        self._placed_until = 0.0
        self._without_parser = False  # see _parser_loses_timestamps
        self._builtin = BuiltinIngest(source, config, self._stop, self._answer_timeout)

    def start(self) -> "IngestSession":
        self._thread.start()
        return self

    def request_stop(self) -> None:
        """Ask the session to end, without waiting (``stop`` waits)."""
        self._stop.set()

    def stop(self, timeout: float = STOP_WAIT_SECONDS) -> None:
        """End the session; waits up to ``timeout`` s for its thread, which a read blocked on a
        silent camera keeps running until FFmpeg's read timeout (nothing reaches consumers then:
        the pipeline closes their queues next)."""
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.info("camera %s/%s stopped while its read waits for the camera (the read ends by itself "
                     "within %g s)", self.source.camera_id, self.source.stream, self.config.read_timeout_seconds)

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
                code = "stream-ended"
                params: dict[str, object] = {"where": self.source.where}
            except Exception as exc:  # every failure of one session is reported, none escapes
                found = classify_stream_error(exc, self.source.where, self._answer_timeout)
                message, config_problem = self.source.mask(found.message), found.configuration
                code = found.code
                params = {k: self.source.mask(v) if isinstance(v, str) else v for k, v in found.params.items()}
            if self._stop.is_set():
                break
            if self.status.packets > started_packets:
                backoff = self.config.backoff_initial_seconds  # it worked for a while: retry fast
            state = StreamState.ERROR if config_problem else StreamState.OFFLINE
            self.status.error_code, self.status.error_params = code, params
            self._set_state(state, message)
            log.warning("camera %s/%s %s: %s", self.source.camera_id, self.source.stream, state.value, message)
            delay = backoff * random.uniform(0.8, 1.2)
            backoff = min(backoff * 2, self.config.backoff_max_seconds)
            self.status.reconnects += 1
            self._stop.wait(delay)
        self._set_state(StreamState.STOPPED)

    def _pull_once(self) -> None:
        if self._builtin.wanted(self._transport.current):
            if self._builtin.pull(self._open_gate, self._begin_builtin, self._end):
                return
        with self._open_gate:
            container = self._open()
            if self._parser_loses_timestamps(container):
                container.close()
                container = self._open()
        session_started = False
        try:
            if not container.streams.video:
                raise StreamUnusable(f"camera at {self.source.where} sends no video track (audio only?)", "stream-no-video")
            video = container.streams.video[0]
            codec = video.codec_context.name
            if codec not in RECORDABLE_CODECS:
                raise StreamUnusable(
                    f"camera at {self.source.where} sends {codec}; only H.264 and H.265 can be recorded "
                    "without re-encoding (set the camera to H.264)", "stream-codec", codec=codec
                )
            if not video.codec_context.width or not video.codec_context.height:
                raise StreamUnusable(f"camera at {self.source.where} sends video without a known picture size", "stream-no-size")
            if video.time_base is None:  # FFmpeg's RTSP demuxer always sets one (90 kHz); say so if not
                raise StreamUnusable(f"camera at {self.source.where} sends video without a time base", "stream-no-time-base")
            info = self._begin(codec, video.codec_context.width, video.codec_context.height,
                               Fraction(video.time_base),
                               float(video.average_rate) if video.average_rate else None,
                               bytes(video.codec_context.extradata or b""))
            session_started = True
            self._pump(container, video, info)
        finally:
            if session_started:
                self._end(self.status.session)
            container.close()

    def _parser_loses_timestamps(self, container: av.container.InputContainer) -> bool:
        """True, once per session object, for a B-frame stream opened with FFmpeg's parser.

        The parser hands over an occasional picture of a B-frame stream without timestamps
        after a burst (streams.access_units); such a stream is reopened without it, and stays
        so across reconnects.
        """
        if self._without_parser or not container.streams.video:
            return False
        if not container.streams.video[0].codec_context.has_b_frames:
            return False
        log.info("camera %s/%s sends B-frames: reading it without FFmpeg's parser, which loses "
                 "timestamps after bursts", self.source.camera_id, self.source.stream)
        self._without_parser = True
        return True

    def _begin(self, codec: str, width: int, height: int, time_base: Fraction, fps: float | None,
               extradata: bytes, client: str = "ffmpeg") -> StreamInfo:
        """Number and publish a new session's description."""
        session = self.status.session + 1
        info = StreamInfo(self.source.camera_id, self.source.stream, session, codec, width, height,
                          time_base, fps, extradata)
        self.status.session = session
        self.status.codec, self.status.width, self.status.height = codec, width, height
        self.status.rtsp_client = client
        self.fanout.publish(info)
        return info

    def _end(self, session: int) -> None:
        reason = "stopped" if self._stop.is_set() else "connection lost"
        self.fanout.publish(StreamEnd(self.source.camera_id, self.source.stream, session, reason))

    def _begin_builtin(self, codec: str, described: Described) -> tuple[int, Feed, Callable[[], None]]:
        info = self._begin(codec, described.width, described.height, described.time_base, described.fps,
                           described.extradata, client="builtin")
        log.info("camera %s/%s: built-in RTSP client, %s %dx%d", self.source.camera_id, self.source.stream,
                 info.codec, info.width, info.height)
        feed, finish = self._placing(info, described.reorders)
        return info.session, feed, finish

    def _open(self, video_only: bool = True) -> av.container.InputContainer:
        """Open the RTSP session; audio is not even set up, as nothing here records it."""
        try:
            return self._open_with(self._transport.options(), video_only)
        except Exception as exc:
            if not self._transport.fall_back(exc):
                raise
        return self._open_with(self._transport.options(), video_only)

    def _open_with(self, transport: dict[str, str], video_only: bool) -> av.container.InputContainer:
        url = with_credentials(self.source.url, self.source.username, self.source.password)
        options = {**transport, "timeout": str(int(self.config.read_timeout_seconds * 1_000_000))}
        if video_only:
            options["allowed_media_types"] = "video"
        if self._without_parser:
            options["fflags"] = "+noparse+nofillin"  # timestamps of every RTP packet, as sent
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
                raise StreamUnusable(f"camera at {self.source.where} sends no video track (audio only?)", "stream-no-video") from None
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
        feed, finish = self._placing(info, bool(video.codec_context.has_b_frames))
        try:
            for unit in access_units(container.demux(video), info.codec):
                if self._stop.is_set():
                    return
                feed(unit, None)
        finally:
            finish()

    def _placing(self, info: StreamInfo, reorders: bool
                 ) -> tuple[Feed, Callable[[], None]]:
        """(feed, finish) of one session: ``feed`` takes each access unit in arrival order, with
        its arrival time (UTC epoch s, None: now), and publishes it placed on our clock;
        ``finish`` publishes what is still held back."""
        timeline = MediaTimeline(info.time_base, info.fps, not_before=self._placed_until)
        frame_ticks = round(1 / ((info.fps or 25.0) * info.time_base))
        depth = B_FRAME_DEPTH if reorders else 0
        splicer = StepSplicer(info.time_base, frame_ticks, depth)
        order = DecodeOrder(depth, frame_ticks,
                            round(JUMP_SECONDS / info.time_base))
        watch = ParameterSetWatch(info.codec)
        self._meter.reset()
        started = False

        def place(ready_units: list[Ready]) -> None:
            for ready, pts, arrival, step in ready_units:
                duplicates = order.duplicates
                pts, dts = order.dts(pts)
                if order.duplicates > duplicates:
                    self._duplicate_timestamp(first_of_session=duplicates == 0)
                keyframe = cast(AccessUnit, ready).keyframe
                self._publish_placed(info, timeline.push(ready, pts, dts, keyframe, arrival, step))

        def feed(unit: AccessUnit | LostPicture, arrival: float | None) -> None:
            nonlocal started, info
            if isinstance(unit, LostPicture):
                if started:
                    # What is placed so far goes out before the gap; what depends on the
                    # lost picture (up to the next keyframe) is left out for every consumer.
                    place(splicer.flush())
                    self._publish_placed(info, timeline.flush())
                    self._lost_picture(info, unit, timeline.last_wall or time.time())
                    started = False
                return
            if not started and not unit.keyframe:
                return  # start every session at a keyframe so it decodes from its first packet
            started = True
            data = unit.data
            if unit.keyframe and info.extradata and not has_parameter_sets(data, info.codec):
                # Cameras that send SPS/PPS only in the SDP would leave every consumer's
                # keyframes undecodable; repeat the SDP's parameter sets in-band.
                data = _as_annex_b(info.extradata) + data
            now = arrival or time.time()
            if unit.keyframe:
                new_sets = watch.changed(data)
                if new_sets is not None:
                    place(splicer.flush())
                    self._publish_placed(info, timeline.flush())
                    info = self._describe_again(info, new_sets, data)
            unit.data = data
            place(splicer.push(unit, unit.pts, now))
            self._count(now, len(data))

        def finish() -> None:
            place(splicer.flush())
            self._publish_placed(info, timeline.flush())
            self._placed_until = timeline.last_wall or self._placed_until

        return feed, finish

    def _publish_placed(self, info: StreamInfo, placed: list[tuple[Any, Placement]]) -> None:
        for unit, placement in placed:
            for event in placement.events:
                self._discontinuity(info, event)
            self.fanout.publish(
                MediaPacket(
                    session=info.session,
                    data=unit.data,
                    pts=placement.pts,
                    dts=placement.dts,
                    time_base=info.time_base,
                    keyframe=unit.keyframe,
                    wall_time=placement.wall_time,
                )
            )

    def _discontinuity(self, info: StreamInfo, event: ClockEvent) -> None:
        counts = self.status.discontinuities
        counts[event.kind] = counts.get(event.kind, 0) + 1
        # Drift is reported per second of accumulated correction: a clock a few per cent off
        # would write a line every few seconds for ever. Counted each time, logged once a minute.
        quiet = event.kind == "drift" and time.monotonic() - self._drift_logged_at < DRIFT_LOG_SECONDS
        if not quiet:
            if event.kind == "drift":
                self._drift_logged_at = time.monotonic()
            log.warning(
                "camera %s/%s: %s of %.3f s at %s (%s)", self.source.camera_id, self.source.stream, event.kind,
                event.seconds, datetime.fromtimestamp(event.wall_time, timezone.utc).isoformat(),
                DISCONTINUITY_MEANING[event.kind],
            )
        self.fanout.publish(
            Discontinuity(self.source.camera_id, self.source.stream, info.session, event.kind, event.seconds, event.wall_time)
        )

    def _duplicate_timestamp(self, first_of_session: bool) -> None:
        """Count a picture sent with the PTS of a recent one (streams.decode_order); log the
        session's first. Nothing is lost: it is kept, one tick after the picture before it."""
        counts = self.status.discontinuities
        counts["duplicate"] = counts.get("duplicate", 0) + 1
        if first_of_session:
            log.warning("camera %s/%s: %s", self.source.camera_id, self.source.stream, DISCONTINUITY_MEANING["duplicate"])

    def _lost_picture(self, info: StreamInfo, lost: LostPicture, wall_time: float) -> None:
        # The size reported is the one picture known lost; what depends on it up to the next
        # keyframe shows as the hole between the index rows.
        self._discontinuity(info, ClockEvent("lost", 1 / (info.fps or 25.0), wall_time))

    def _describe_again(self, info: StreamInfo, parameter_sets: bytes, keyframe: bytes) -> StreamInfo:
        """A new description (and session number) for a camera that changed its parameter sets."""
        size = picture_size(info.codec, keyframe) or (info.width, info.height)
        log.warning(
            "camera %s/%s changed its parameter sets mid-stream: %dx%d -> %dx%d; starting a new segment",
            self.source.camera_id, self.source.stream, info.width, info.height, *size,
        )
        session = self.status.session + 1
        info = replace(info, session=session, width=size[0], height=size[1], extradata=parameter_sets)
        self.status.session = session
        self.status.width, self.status.height = info.width, info.height
        self.fanout.publish(info)
        self._publish_status(time.time())
        return info

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
            if error is None:
                self.status.error_code, self.status.error_params = None, {}
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
