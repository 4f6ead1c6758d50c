#!/usr/bin/python3
"""Camera simulator server: a real GStreamer RTSP server serving synthetic H.264/H.265 scenes.

Runs under Debian's system python (``/usr/bin/python3``), the only one with ``gi``; imports
nothing but the standard library and GObject introspection (no numpy, no cairo). Started and
driven by ``streams.simulator.CameraSimulator``; usable by hand too::

    /usr/bin/python3 streams/simulator/gst_server.py --port 8554 \
        --spec-json '[{"id": "tunnel-01", "scene": "tunnel", "sub": {"width": 320, "height": 180}}]'

Spec: a JSON list (or ``{"cameras": [...]}``) of cameras; every field but ``id`` optional::

    {"id": "tunnel-01", "scene": "tunnel|road|ball|audio-only", "width": 640, "height": 360,
     "fps": 25, "bitrate_kbps": 1000, "gop": <fps>, "bframes": 0, "codec": "h264|h265",
     "audio": false, "sdp_only_parameter_sets": false,
     "sub": {"width", "height", "fps", "bitrate_kbps", "gop", "bframes", "codec"} | null,
     "username": null, "password": null, "auth": "basic|digest", "shared": true, "label": <id>,
     "protocols": "any|udp|tcp"}

Sizes are rounded down to even numbers; a sub stream takes what it does not say from the main
one, except ``gop``, which defaults to the sub's own fps.

Mounts: ``rtsp://HOST:PORT/<id>/main`` and, with ``sub``, ``/<id>/sub``.

* Scenes are drawn by a ``compositor`` from solid-colour ``videotestsrc`` boxes (tunnel: dark
  lanes and lit vehicles; road: asphalt, lane lines, coloured cars and trucks); ``ball`` is
  ``videotestsrc pattern=ball``. Vehicles move at a steady speed: a pad probe sets their
  compositor ``xpos`` from the frame's clock time before each frame is composed, so main and
  sub (and pipelines rebuilt after a reconnect) show the same scene. One ``textoverlay`` shows
  the label, the wall clock with milliseconds and a frame counter, set by another per-frame
  probe; an ``overlaycomposition`` draws ``timecode.py``'s block strip with the frame's capture
  time (one row of pixels made per frame, stretched by GStreamer's blender). That is all the per-frame Python: a few property sets, never a pixel.
* Encoding: x264 ``ultrafast`` (``tune=zerolatency`` unless B-frames are asked for, then
  ``profile=main``) or x265 ``ultrafast`` (closed GOP), a keyframe exactly every ``gop``
  frames (scene-cut off). x264 runs true CBR (``nal-hrd=cbr:filler``): the simple scenes would
  need far less, so filler NAL units make the stream weigh ``bitrate_kbps`` as a real CBR
  camera's does; x265 is VBV-capped ABR and stays below it. SPS/PPS (and VPS) go in-band before every keyframe
  (``config-interval=-1``); with ``sdp_only_parameter_sets`` they travel only in the SDP's
  sprop parameter sets (H.264: none in the stream at all; H.265: x265enc still puts them in
  front of the very first frame). ``audio`` adds a 440 Hz tone as PCMA (``pay1``);
  ``audio-only`` cameras have only that tone (``pay0``) and no video.
* ``shared`` cameras run one pipeline for all their clients (each client still has its own
  RTSP session); the pipeline is built on the first DESCRIBE and released when the last
  client goes, so idle cameras cost nothing.
* ``protocols`` restricts the RTP transports a mount accepts: ``udp`` mounts answer a SETUP
  asking for RTP over the RTSP TCP connection with ``461 Unsupported transport``, as some
  real cameras do.
* Cameras with ``username``/``password`` answer 401 (with a Basic or Digest challenge as their
  ``auth`` says) to missing or wrong credentials, and to credentials of another camera.

Protocol: after the server listens it prints ``ready <port>`` on stdout (``--port 0`` picks a
free port). Then it reads one command a line on stdin and answers one line on stdout:

    stop <id>      -> ok stop <id>       (mounts removed, every client with a session on the
                                          camera disconnected at once: its TCP connection is
                                          closed and its session and pipeline torn down)
    start <id>     -> ok start <id>      (mounts added again, fresh factories and pipelines)
    sessions <id>  -> sessions <id> <n>  (RTSP sessions, i.e. SETUP done, on its mounts)
    quit           -> ok quit            (then every client is cut off and the process exits)
    anything else  -> error <text>

It exits when stdin reaches end of file (its parent died) or on SIGINT/SIGTERM. Diagnostics,
including one line per pipeline built and released, go to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import time
from typing import Any

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer, GstVideo  # noqa: E402

# timecode.py sits beside this script (the script's folder is first on sys.path)
from timecode import strip_pixels, strip_rows  # type: ignore[import-not-found]  # noqa: E402

DEFAULTS = {
    "scene": "road",
    "width": 640,
    "height": 360,
    "fps": 25,
    "bitrate_kbps": 1000,
    "gop": None,  # defaults to fps (one keyframe a second)
    "bframes": 0,
    "codec": "h264",
    "audio": False,
    "sdp_only_parameter_sets": False,
    "sub": None,
    "username": None,
    "password": None,
    "auth": "basic",
    "shared": True,
    "label": None,
    "protocols": "any",
}
SCENES = ("tunnel", "road", "ball", "audio-only")
# RTP transports a mount accepts; a client asking for another gets 461 Unsupported transport
PROTOCOLS = ("any", "udp", "tcp")
CAMERA_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
ANONYMOUS_ROLE = "anonymous"


def log(message: str) -> None:
    """A diagnostic on stderr; never raises (the parent may be gone and the pipe broken)."""
    try:
        print(f"gst_server: {message}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def say(line: str) -> bool:
    """One protocol line on stdout; False when nobody reads it any more."""
    try:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        return True
    except (OSError, ValueError):
        return False


# --------------------------------------------------------------------------- camera specs


def normalise_spec(raw: dict[str, Any]) -> dict[str, Any]:
    """Fill defaults and check one camera spec; raises ValueError on a bad one."""
    unknown = set(raw) - set(DEFAULTS) - {"id"}
    if unknown:
        raise ValueError(f"unknown camera field(s) {sorted(unknown)}")
    spec = dict(DEFAULTS)
    spec.update({k: v for k, v in raw.items() if v is not None or k in ("sub", "username", "password", "label")})
    cam_id = str(raw.get("id") or "")
    if not CAMERA_ID.fullmatch(cam_id):
        raise ValueError(f"bad camera id {cam_id!r} (letters, digits, '.', '_', '-')")
    spec["id"] = cam_id
    if spec["scene"] not in SCENES:
        raise ValueError(f"{cam_id}: unknown scene {spec['scene']!r} (one of {', '.join(SCENES)})")
    if spec["codec"] not in ("h264", "h265"):
        raise ValueError(f"{cam_id}: unknown codec {spec['codec']!r}")
    if spec["auth"] not in ("basic", "digest"):
        raise ValueError(f"{cam_id}: unknown auth {spec['auth']!r}")
    if (spec["username"] is None) != (spec["password"] is None):
        raise ValueError(f"{cam_id}: username and password go together")
    if spec["protocols"] not in PROTOCOLS:
        raise ValueError(f"{cam_id}: unknown protocols {spec['protocols']!r} (one of {', '.join(PROTOCOLS)})")
    if spec["label"] is None:
        spec["label"] = cam_id
    main = stream_params(spec, {})
    spec["streams"] = {"main": main}
    if spec["sub"]:
        spec["streams"]["sub"] = stream_params(main, dict(spec["sub"]))
    return spec


def stream_params(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Parameters of one encoded stream (main, or sub taking what it doesn't say from main)."""
    params = {}
    for key in ("width", "height", "fps", "bitrate_kbps", "bframes", "codec", "gop"):
        params[key] = override.get(key, base.get(key))
    if "fps" in override and "gop" not in override:
        params["gop"] = None
    for key in ("width", "height", "fps", "bitrate_kbps", "bframes"):
        params[key] = int(params[key])
    params["gop"] = int(params["gop"] or params["fps"])
    # 4:2:0 needs even sizes
    params["width"] -= params["width"] % 2
    params["height"] -= params["height"] % 2
    if params["width"] < 32 or params["height"] < 32 or params["fps"] < 1 or params["gop"] < 1:
        raise ValueError(f"bad stream parameters {params}")
    return params


# --------------------------------------------------------------------------- scenes

# A scene is a list of boxes: (x, y, w, h) as fractions of the frame, ARGB colour, and for
# vehicles the time in seconds to cross the frame (negative: right to left) and a phase (0..1).
TUNNEL = [
    ((0.0, 0.00, 1.0, 0.22), 0xFF1E1E24, None),  # ceiling
    ((0.0, 0.205, 1.0, 0.015), 0xFFB0A070, None),  # lamp strip
    ((0.0, 0.86, 1.0, 0.14), 0xFF1A1A1E, None),  # walkway
    ((0.0, 0.30, 1.0, 0.008), 0xFF6A6A6A, None),  # lane edge
    ((0.0, 0.575, 1.0, 0.008), 0xFF8A8A60, None),  # lane divider
    ((0.0, 0.84, 1.0, 0.008), 0xFF6A6A6A, None),  # lane edge
    ((0.0, 0.34, 0.14, 0.18), 0xFFE8E4C8, (-6.0, 0.0)),  # lit vehicles, upper lane right to left
    ((0.0, 0.36, 0.22, 0.16), 0xFFC8C8D0, (-6.0, 0.55)),
    ((0.0, 0.62, 0.16, 0.18), 0xFFF0F0E0, (5.0, 0.2)),  # lower lane left to right
    ((0.0, 0.63, 0.12, 0.16), 0xFFD8D0B0, (5.0, 0.7)),
]
TUNNEL_BACKGROUND = 0xFF0C0C10

ROAD = [
    ((0.0, 0.22, 1.0, 0.66), 0xFF5A5A5E, None),  # asphalt
    ((0.0, 0.24, 1.0, 0.01), 0xFFE8E8E8, None),  # edge line
    ((0.0, 0.385, 1.0, 0.008), 0xFFD0D0D0, None),  # lane line
    ((0.0, 0.545, 1.0, 0.016), 0xFFE0C040, None),  # centre line
    ((0.0, 0.71, 1.0, 0.008), 0xFFD0D0D0, None),  # lane line
    ((0.0, 0.86, 1.0, 0.01), 0xFFE8E8E8, None),  # edge line
    ((0.0, 0.27, 0.12, 0.09), 0xFFC03030, (-5.0, 0.1)),  # red car, lane 1 right to left
    ((0.0, 0.265, 0.26, 0.10), 0xFFE0E0E0, (-5.0, 0.6)),  # white truck, lane 1
    ((0.0, 0.425, 0.11, 0.09), 0xFF3050C0, (-3.2, 0.4)),  # blue car, lane 2
    ((0.0, 0.59, 0.12, 0.09), 0xFFE0C020, (3.5, 0.3)),  # yellow car, lane 3 left to right
    ((0.0, 0.75, 0.24, 0.10), 0xFF20A040, (6.5, 0.0)),  # green truck, lane 4
    ((0.0, 0.755, 0.11, 0.09), 0xFF202020, (6.5, 0.5)),  # black car, lane 4
]
ROAD_BACKGROUND = 0xFF2E5A2E


def even(value: float) -> int:
    return max(2, int(round(value / 2.0)) * 2)


def video_caps(width: int, height: int, fps: int) -> str:
    return f"video/x-raw,format=I420,width={width},height={height},framerate={fps}/1"


def encoder_chain(params: dict[str, Any], sdp_only: bool) -> str:
    """Encoder and payloader (named pay0) for one video stream."""
    gop, bframes, kbps = params["gop"], params["bframes"], params["bitrate_kbps"]
    config_interval = 0 if sdp_only else -1
    if params["codec"] == "h265":
        tune = "tune=zerolatency " if bframes == 0 else ""
        options = f"bframes={bframes}:scenecut=0:open-gop=0:min-keyint={gop}:repeat-headers={0 if sdp_only else 1}:info=0"
        return (
            f"x265enc speed-preset=ultrafast {tune}key-int-max={gop} bitrate={kbps} "
            f'option-string="{options}" ! video/x-h265,profile=main ! '
            f"rtph265pay name=pay0 pt=96 config-interval={config_interval}"
        )
    tune = "tune=zerolatency " if bframes == 0 else "b-adapt=false rc-lookahead=0 sync-lookahead=0 "
    # stream-format=avc keeps SPS/PPS out of the stream (codec_data -> SDP sprop-parameter-sets)
    fmt = "avc" if sdp_only else "byte-stream"
    profile = ",profile=main" if bframes else ""
    return (
        f"x264enc speed-preset=ultrafast {tune}key-int-max={gop} bframes={bframes} bitrate={kbps} "
        f"vbv-buf-capacity=1000 threads=1 option-string=scenecut=0:min-keyint={gop}:repeat-headers={0 if sdp_only else 1}:nal-hrd=cbr:filler=1 ! "
        f"video/x-h264,stream-format={fmt},alignment=au{profile} ! "
        f"rtph264pay name=pay0 pt=96 config-interval={config_interval}"
    )


def audio_chain(pay_name: str) -> str:
    """A quiet 440 Hz tone as G.711 A-law (PCMA), payloader named `pay_name`."""
    return (
        "audiotestsrc is-live=true wave=sine freq=440 volume=0.1 samplesperbuffer=320 ! "
        f"audio/x-raw,rate=8000,channels=1 ! alawenc ! rtppcmapay name={pay_name} pt=8"
    )


def scene_boxes(scene: str) -> tuple[int, list]:
    return (TUNNEL_BACKGROUND, TUNNEL) if scene == "tunnel" else (ROAD_BACKGROUND, ROAD)


def launch_line(spec: dict[str, Any], params: dict[str, Any]) -> str:
    """The gst-launch description of one mount's media bin."""
    if spec["scene"] == "audio-only":
        return f"( {audio_chain('pay0')} )"
    width, height, fps = params["width"], params["height"], params["fps"]
    # auto-resize scales the font with the frame width (10 pt at 640 pixels)
    osd = (
        'textoverlay name=osd font-desc="Sans 10" auto-resize=true halignment=left valignment=top '
        f"shaded-background=true draw-shadow=false text={spec['id']}"
        " ! overlaycomposition name=timecode"
    )
    parts = []
    if spec["scene"] == "ball":
        parts.append(
            f"videotestsrc is-live=true pattern=ball motion=sweep ! {video_caps(width, height, fps)} ! {osd}"
        )
    else:
        background, boxes = scene_boxes(spec["scene"])
        parts.append(f"compositor name=comp background=black ! {video_caps(width, height, fps)} ! {osd}")
        parts.append(
            f"videotestsrc is-live=true pattern=solid-color foreground-color={background} ! "
            f"{video_caps(width, height, fps)} ! comp.sink_0"
        )
        for index, ((_, _, fw, fh), colour, _motion) in enumerate(boxes, start=1):
            parts.append(
                f"videotestsrc pattern=solid-color foreground-color={colour} ! "
                f"{video_caps(min(width, even(fw * width)), min(height, even(fh * height)), fps)} ! comp.sink_{index}"
            )
    parts[0] += " ! " + encoder_chain(params, spec["sdp_only_parameter_sets"])
    if spec["audio"]:
        parts.append(audio_chain("pay1"))
    return "( " + " ".join(parts) + " )"


def configure_scene(spec: dict[str, Any], params: dict[str, Any], bin_: Gst.Bin) -> None:
    """Place the boxes of a freshly built media bin and set it up to move the vehicles."""
    osd = bin_.get_by_name("osd")
    if osd is not None:
        attach_osd(osd, spec["label"])
    timecode = bin_.get_by_name("timecode")
    if timecode is not None:
        attach_timecode(timecode, params["width"], params["height"])
    comp = bin_.get_by_name("comp")
    if comp is None:
        return
    width, height = params["width"], params["height"]
    _, boxes = scene_boxes(spec["scene"])
    vehicles = []
    for index, ((fx, fy, fw, _fh), _colour, motion) in enumerate(boxes, start=1):
        pad = comp.get_static_pad(f"sink_{index}")
        if pad is None:
            log(f"{spec['id']}: compositor pad sink_{index} missing")
            continue
        pad.set_property("xpos", int(fx * width))
        pad.set_property("ypos", int(fy * height))
        pad.set_property("zorder", index)
        if motion is not None:
            box_w = min(width, even(fw * width))
            crossing, phase = motion
            # x runs from -box_w (just off the left edge) to width (just off the right edge)
            span = width + box_w
            period_ns = int(abs(crossing) * span / width * Gst.SECOND)
            vehicles.append((pad, box_w, span, period_ns, int(phase * period_ns), crossing > 0))
    background = comp.get_static_pad("sink_0")
    background.set_property("zorder", 0)
    if vehicles:
        background.add_probe(Gst.PadProbeType.BUFFER, move_vehicles, comp, vehicles)


def move_vehicles(pad, info, comp, vehicles):
    """Before the compositor draws a frame, put each vehicle where it is at that frame's time.

    Runs on the background's buffers (a live source, so exactly one per output frame). The
    position is a function of the clock time (base time + pts), so a camera's main and sub
    streams, and pipelines built after a reconnect, show the same scene.
    """
    buffer = info.get_buffer()
    if buffer is None or buffer.pts == Gst.CLOCK_TIME_NONE:
        return Gst.PadProbeReturn.OK
    now = comp.get_base_time() + buffer.pts
    for vehicle_pad, box_w, span, period_ns, shift_ns, rightwards in vehicles:
        fraction = ((now + shift_ns) % period_ns) / period_ns
        travelled = int(fraction * span)
        vehicle_pad.set_property("xpos", travelled - box_w if rightwards else span - box_w - travelled)
    return Gst.PadProbeReturn.OK


def attach_osd(osd: Gst.Element, label: str) -> None:
    """Set the overlay text of every frame: label, wall clock with milliseconds, frame number."""
    counter = [0]

    def on_buffer(_pad, _info):
        now = time.time()
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
        osd.set_property("text", f"{label}  {stamp}.{int(now * 1000) % 1000:03d}  #{counter[0]}")
        counter[0] += 1
        return Gst.PadProbeReturn.OK

    osd.get_static_pad("video_sink").add_probe(Gst.PadProbeType.BUFFER, on_buffer)


def attach_timecode(element: Gst.Element, width: int, height: int) -> None:
    """Draw the capture wall-clock time (ms) of every frame as timecode.py's block strip.

    The capture time is the frame's clock time (base time + pts) plus the offset from the
    pipeline clock (monotonic) to the wall clock, so frames are stamped at their true spacing.
    The offset is measured at every frame, trusted only when the two clock reads around the
    wall-clock read were close together (a thread preempted between them, on a loaded machine,
    would add jitter), and changed only when the wall clock was stepped (more than 5 ms off).
    One row of pixels is made per frame and stretched over the strip's height by the blender.
    """
    rows = strip_rows(height)
    offset = {"ns": None, "tight": False}

    def on_draw(overlay: Gst.Element, sample: Gst.Sample) -> GstVideo.VideoOverlayComposition | None:
        buffer = sample.get_buffer()
        clock = overlay.get_clock()
        if buffer is None or buffer.pts == Gst.CLOCK_TIME_NONE or clock is None:
            return None
        before = clock.get_time()
        wall = time.time_ns()
        after = clock.get_time()
        measured, tight = wall - (before + after) // 2, after - before < 500_000
        if offset["ns"] is None or (tight and (not offset["tight"] or abs(measured - offset["ns"]) > 5_000_000)):
            offset["ns"], offset["tight"] = measured, tight
        captured_ms = (overlay.get_base_time() + buffer.pts + offset["ns"]) // 1_000_000
        pixels = Gst.Buffer.new_wrapped(strip_pixels(captured_ms, width))
        GstVideo.buffer_add_video_meta(
            pixels, GstVideo.VideoFrameFlags.NONE, GstVideo.VideoFormat.BGRA, width, 1
        )
        rectangle = GstVideo.VideoOverlayRectangle.new_raw(
            pixels, 0, height - rows, width, rows, GstVideo.VideoOverlayFormatFlags.NONE
        )
        return GstVideo.VideoOverlayComposition.new(rectangle)

    element.connect("draw", on_draw)


# --------------------------------------------------------------------------- auth


class CameraAuth(GstRtspServer.RTSPAuth):
    """RTSPAuth that challenges with the method (basic or digest) of the camera asked for.

    Checking an Authorization header does not depend on the supported methods (only on the
    registered credentials), so switching them just while the 401 header is written is safe.
    """

    def __init__(self, methods_by_camera: dict[str, GstRtsp.RTSPAuthMethod]):
        super().__init__()
        self.methods_by_camera = methods_by_camera
        self.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)

    def do_generate_authenticate_header(self, ctx):  # noqa: N802 (GObject vfunc name)
        method = GstRtsp.RTSPAuthMethod.BASIC
        try:
            path = ctx.uri.abspath if ctx.uri is not None else ""
            method = self.methods_by_camera.get(path.strip("/").split("/", 1)[0], method)
        except Exception as exc:  # never break the server over a header
            log(f"auth: cannot read request path: {exc!r}")
        self.set_supported_methods(method)
        GstRtspServer.RTSPAuth.do_generate_authenticate_header(self, ctx)


def make_token(role: str) -> GstRtspServer.RTSPToken:
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, role)
    return token


def make_permissions(roles: dict[str, bool]) -> GstRtspServer.RTSPPermissions:
    """Every role may access the factory (so a refusal is a 401, not a 404); `roles[r]` says
    whether role r may also construct (= play) it."""
    permissions = GstRtspServer.RTSPPermissions()
    for role, allowed in roles.items():
        permissions.add_permission_for_role(role, GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS, True)
        permissions.add_permission_for_role(role, GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, allowed)
    return permissions


# --------------------------------------------------------------------------- server


class Camera:
    def __init__(self, spec: dict[str, Any]):
        self.spec = spec
        self.id = spec["id"]
        self.role = ANONYMOUS_ROLE  # the role that may play this camera
        self.all_roles = [ANONYMOUS_ROLE]  # every role the server hands out
        self.running = False

    def paths(self) -> list[str]:
        return [f"/{self.id}/{name}" for name in self.spec["streams"]]

    def make_factory(self, stream: str) -> GstRtspServer.RTSPMediaFactory:
        spec, params = self.spec, self.spec["streams"][stream]
        factory = GstRtspServer.RTSPMediaFactory()
        launch = launch_line(spec, params)
        log(f"{self.id}/{stream}: {launch}")
        factory.set_launch(launch)
        factory.set_shared(bool(spec["shared"]))
        factory.set_suspend_mode(GstRtspServer.RTSPSuspendMode.NONE)
        factory.set_eos_shutdown(False)
        factory.set_stop_on_disconnect(True)
        if spec["protocols"] == "udp":
            factory.set_protocols(GstRtsp.RTSPLowerTrans.UDP | GstRtsp.RTSPLowerTrans.UDP_MCAST)
        elif spec["protocols"] == "tcp":
            factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)
        if self.role == ANONYMOUS_ROLE:
            factory.set_permissions(make_permissions({role: True for role in self.all_roles}))
        else:
            factory.set_permissions(make_permissions({role: role == self.role for role in self.all_roles}))
        factory.connect("media-configure", self.on_media_configure, stream)
        return factory

    def on_media_configure(self, _factory, media, stream):
        log(f"{self.id}/{stream}: pipeline built")
        media.connect("unprepared", lambda _media: log(f"{self.id}/{stream}: pipeline released"))
        try:
            configure_scene(self.spec, self.spec["streams"][stream], media.get_element())
        except Exception as exc:
            log(f"{self.id}/{stream}: cannot configure scene: {exc!r}")


class Simulator:
    def __init__(self, specs: list[dict[str, Any]], address: str, port: int):
        self.cameras = {spec["id"]: Camera(spec) for spec in specs}
        self.server = GstRtspServer.RTSPServer()
        self.server.set_address(address)
        self.server.set_service(str(port))
        self.mounts = self.server.get_mount_points()
        self.loop = GLib.MainLoop()
        self.pending = b""
        self.setup_auth()

    def setup_auth(self) -> None:
        """Protect the cameras that have credentials; the others stay open to anyone."""
        protected = [c for c in self.cameras.values() if c.spec["username"] is not None]
        if not protected:
            return
        methods_by_camera = {}
        roles: dict[tuple, str] = {}
        digest_passwords: dict[str, str] = {}
        for camera in protected:
            spec = camera.spec
            user, password = str(spec["username"]), str(spec["password"])
            if spec["auth"] == "digest":
                methods_by_camera[camera.id] = GstRtsp.RTSPAuthMethod.DIGEST
                if digest_passwords.setdefault(user, password) != password:
                    log(f"{camera.id}: digest user {user!r} already has another password; the first one wins")
                key = ("digest", user)
            else:
                methods_by_camera[camera.id] = GstRtsp.RTSPAuthMethod.BASIC
                key = ("basic", user, password)
            camera.role = roles.setdefault(key, f"user{len(roles)}")
        auth = CameraAuth(methods_by_camera)
        auth.set_default_token(make_token(ANONYMOUS_ROLE))
        for key, role in roles.items():
            if key[0] == "digest":
                auth.add_digest(key[1], digest_passwords[key[1]], make_token(role))
            else:
                auth.add_basic(GstRtspServer.RTSPAuth.make_basic(key[1], key[2]), make_token(role))
        for camera in self.cameras.values():
            camera.all_roles = [ANONYMOUS_ROLE, *roles.values()]
        self.auth = auth
        self.server.set_auth(auth)

    # ------------------------------------------------------------------ cameras

    def start_camera(self, camera: Camera) -> None:
        if camera.running:
            return
        for stream in camera.spec["streams"]:
            # a fresh factory each time: nothing from before a stop is reused
            self.mounts.add_factory(f"/{camera.id}/{stream}", camera.make_factory(stream))
        camera.running = True

    def stop_camera(self, camera: Camera) -> None:
        for path in camera.paths():
            self.mounts.remove_factory(path)
        camera.running = False
        paths = camera.paths()

        def client_filter(_server, client, _data=None):
            if client.session_filter(lambda _c, session, _d=None: self._session_result(session, paths, True)):
                return GstRtspServer.RTSPFilterResult.REMOVE
            return GstRtspServer.RTSPFilterResult.KEEP

        self.server.client_filter(client_filter)
        # sessions not tied to a connection (UDP clients that dropped theirs) go too
        self.server.get_session_pool().filter(
            lambda _pool, session, _d=None: (
                GstRtspServer.RTSPFilterResult.REMOVE
                if self._session_matches(session, paths)
                else GstRtspServer.RTSPFilterResult.KEEP
            )
        )

    def _session_result(self, session, paths, _ref) -> GstRtspServer.RTSPFilterResult:
        if self._session_matches(session, paths):
            return GstRtspServer.RTSPFilterResult.REF
        return GstRtspServer.RTSPFilterResult.KEEP

    @staticmethod
    def _session_matches(session, paths) -> bool:
        for sessmedia in session.filter(None):
            for path in paths:
                matched, _length = sessmedia.matches(path)
                if matched:
                    return True
        return False

    def count_sessions(self, camera: Camera) -> int:
        paths = camera.paths()
        return sum(1 for session in self.server.get_session_pool().filter(None) if self._session_matches(session, paths))

    # ------------------------------------------------------------------ control

    def command(self, line: str) -> str:
        words = line.split()
        if not words:
            return "error empty command"
        verb, args = words[0].lower(), words[1:]
        if verb == "quit":
            self.loop.quit()
            return "ok quit"
        if verb not in ("stop", "start", "sessions"):
            return f"error unknown command {verb!r}"
        if len(args) != 1:
            return f"error usage: {verb} <camera id>"
        camera = self.cameras.get(args[0])
        if camera is None:
            return f"error unknown camera {args[0]}"
        if verb == "stop":
            self.stop_camera(camera)
            return f"ok stop {camera.id}"
        if verb == "start":
            self.start_camera(camera)
            return f"ok start {camera.id}"
        return f"sessions {camera.id} {self.count_sessions(camera)}"

    def on_stdin(self, fd, condition) -> bool:
        data = b""
        if condition & (GLib.IO_IN | GLib.IO_PRI):
            try:
                data = os.read(fd, 65536)
            except OSError as exc:
                log(f"stdin: {exc}")
        if not data:
            self.loop.quit()
            log("stdin closed: exiting")
            return False
        self.pending += data
        while b"\n" in self.pending:
            raw, self.pending = self.pending.split(b"\n", 1)
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            try:
                answer = self.command(line)
            except Exception as exc:  # answer something, always
                log(f"command {line!r} failed: {exc!r}")
                answer = f"error {type(exc).__name__}: {exc}"
            if not say(answer):
                self.loop.quit()
                return False
        return True

    def run(self, watch_stdin: bool = True) -> int:
        for camera in self.cameras.values():
            self.start_camera(camera)
        source_id = self.server.attach(None)
        if not source_id:
            log("cannot listen (port in use?)")
            return 2
        port = self.server.get_bound_port()
        # a session without keep-alive is dropped after this many seconds
        GLib.timeout_add_seconds(2, self._cleanup_sessions)
        if watch_stdin:
            GLib.io_add_watch(0, GLib.PRIORITY_DEFAULT, GLib.IO_IN | GLib.IO_PRI | GLib.IO_HUP | GLib.IO_ERR, self.on_stdin)
        for sig in (signal.SIGINT, signal.SIGTERM):
            GLib.unix_signal_add(GLib.PRIORITY_HIGH, sig, self._on_signal)
        say(f"ready {port}")
        self.loop.run()
        self.shutdown()
        return 0

    def shutdown(self) -> None:
        """Cut every client off (they see the connection close) before the process goes."""
        for camera in self.cameras.values():
            for path in camera.paths():
                self.mounts.remove_factory(path)
        self.server.client_filter(lambda *_args: GstRtspServer.RTSPFilterResult.REMOVE)

    def _cleanup_sessions(self) -> bool:
        self.server.get_session_pool().cleanup()
        return True

    def _on_signal(self) -> bool:
        self.loop.quit()
        log("signal: exiting")
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve synthetic cameras over RTSP (GStreamer).")
    parser.add_argument("--port", type=int, default=8554, help="RTSP port; 0 picks a free one")
    parser.add_argument("--address", default="127.0.0.1", help="address to listen on")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--spec", help="JSON file: a list of camera specs (or {\"cameras\": [...]})")
    source.add_argument("--spec-json", help="the same JSON as a string")
    parser.add_argument("--no-stdin", action="store_true", help="ignore stdin (run until a signal)")
    args = parser.parse_args(argv)

    try:
        if args.spec:
            with open(args.spec, encoding="utf-8") as handle:
                raw = json.load(handle)
        else:
            raw = json.loads(args.spec_json)
        if isinstance(raw, dict):
            raw = raw.get("cameras", [raw] if "id" in raw else [])
        specs = [normalise_spec(item) for item in raw]
        ids = [spec["id"] for spec in specs]
        if len(set(ids)) != len(ids):
            raise ValueError("camera ids must be unique")
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        log(f"bad spec: {exc}")
        return 2

    Gst.init(None)
    simulator = Simulator(specs, args.address, args.port)
    code = simulator.run(watch_stdin=not args.no_stdin)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    # streaming threads may still be inside Python probes: leave without interpreter teardown
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
