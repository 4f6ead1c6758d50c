"""Probe a camera before registering it: what it sends, in plain words, without recording."""

from __future__ import annotations

import time

import av

from streams.errors import RECORDABLE_CODECS, classify_stream_error
from streams.ingest import StreamSource
from streams.transport import TransportChoice
from vms.cameras.probe import ProbeResult
from vms.cameras.rtsp_url import with_credentials


def probe(source: StreamSource, seconds: float = 4.0, timeout: float = 10.0, snapshot: bool = False) -> ProbeResult:
    """Read ``seconds`` of the stream, measure it, and optionally decode one keyframe to JPEG."""
    result = ProbeResult(ok=False, url=source.url)
    try:
        url = with_credentials(source.url, source.username, source.password)
        transport = TransportChoice(source.transport, source.where)
        with _open(url, transport, timeout) as container:
            result.transport = transport.current
            result.audio = [s.codec_context.name for s in container.streams.audio]
            if not container.streams.video:
                result.error = f"camera at {source.where} sends no video track (audio only?)"
                result.error_code, result.error_params = "stream-no-video", {"where": source.where}
                return result
            video = container.streams.video[0]
            _measure(container, video, seconds, result, snapshot)
    except Exception as exc:
        found = classify_stream_error(exc, source.where, timeout)
        result.error = source.mask(found.message)
        result.error_code = found.code
        result.error_params = {k: source.mask(v) if isinstance(v, str) else v for k, v in found.params.items()}
        return result
    if result.codec not in RECORDABLE_CODECS:
        result.error = f"codec {result.codec} cannot be recorded without re-encoding; set the camera to H.264 or H.265"
        result.error_code, result.error_params = "stream-codec", {"where": source.where, "codec": result.codec}
        return result
    if source.transport == "auto" and result.transport == "udp":
        result.warnings.append("the camera refuses RTSP over TCP (461): it is pulled over UDP, which may lose packets")
        result.warning_codes.append({"code": "probe-udp-fallback", "params": {}})
    if result.codec == "hevc":
        result.warnings.append("H.265 is recorded as it is, but most browsers cannot play it live")
        result.warning_codes.append({"code": "probe-hevc", "params": {}})
    if result.has_b_frames:
        result.warnings.append(
            "the camera sends B-frames: recorded as they are, but browsers cannot play them live "
            "(live view is refused unless re-encoded with ?transcode=1); turn B-frames off in the camera"
        )
        result.warning_codes.append({"code": "probe-b-frames", "params": {}})
    if result.keyframe_interval_seconds and result.keyframe_interval_seconds > 4:
        result.warnings.append(
            f"keyframes every {result.keyframe_interval_seconds:.1f} s: live start and seeking will be slow; "
            "2 s or less is recommended"
        )
        result.warning_codes.append({"code": "probe-slow-keyframes",
                                     "params": {"seconds": round(result.keyframe_interval_seconds, 1)}})
    result.ok = True
    return result


def _open(url: str, transport: TransportChoice, timeout: float) -> av.container.InputContainer:
    try:
        return av.open(url, format="rtsp", options=transport.options(), timeout=(timeout, timeout))
    except Exception as exc:
        if not transport.fall_back(exc):
            raise
    return av.open(url, format="rtsp", options=transport.options(), timeout=(timeout, timeout))


def _measure(container: av.container.InputContainer, video: av.video.stream.VideoStream, seconds: float,
             result: ProbeResult, snapshot: bool) -> None:
    ctx = video.codec_context
    result.codec, result.width, result.height = ctx.name, ctx.width, ctx.height
    result.profile = ctx.profile
    keyframe_times: list[float] = []
    first_pts = last_pts = None
    frames = total_bytes = 0
    started = time.monotonic()
    for packet in container.demux(video):
        if packet.pts is None:
            continue
        if packet.dts is not None and packet.pts != packet.dts:
            result.has_b_frames = True
        t = float(packet.pts * video.time_base)
        first_pts = t if first_pts is None else min(first_pts, t)
        last_pts = t if last_pts is None else max(last_pts, t)
        frames += 1
        total_bytes += packet.size
        if packet.is_keyframe:
            keyframe_times.append(t)
            if snapshot and result.snapshot_jpeg is None:
                result.snapshot_jpeg = _jpeg(ctx, packet)
        if time.monotonic() - started >= seconds and len(keyframe_times) >= 2:
            break
        if time.monotonic() - started >= seconds * 3:
            break
    span = (last_pts - first_pts) if first_pts is not None and last_pts is not None else 0
    if span > 0:
        result.fps = round((frames - 1) / span, 2)
        result.bitrate_bps = round(total_bytes * 8 / span)
    if len(keyframe_times) >= 2:
        result.keyframe_interval_seconds = round(
            (keyframe_times[-1] - keyframe_times[0]) / (len(keyframe_times) - 1), 3
        )


def _jpeg(ctx, packet) -> bytes | None:
    import cv2

    try:
        for frame in ctx.decode(packet):
            ok, encoded = cv2.imencode(".jpg", frame.to_ndarray(format="bgr24"))
            return encoded.tobytes() if ok else None
    except av.error.FFmpegError:
        return None
    return None


def probe_url(url: str, username: str | None, password: str | None, seconds: float = 4.0,
              snapshot: bool = False, transport: str = "auto") -> ProbeResult:
    """``probe`` of a camera's RTSP ``url`` (credentials apart) over ``transport`` (auto, tcp,
    udp); raises ``InvalidCameraUrl`` for a bad URL."""
    source = StreamSource("probe", "main", url, username, password, transport)
    return probe(source, seconds=seconds, snapshot=snapshot)
