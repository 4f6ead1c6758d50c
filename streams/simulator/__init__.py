"""Camera simulator: serve synthetic cameras over real RTSP, for tests, benchmarks and demos.

Its one job is to stand in for the district's IP cameras. ``CameraSimulator`` starts
``gst_server.py`` (beside this file) under Debian's system python, which has GStreamer's RTSP
server through ``gi``, and talks to it over pipes. Every ``SimulatedCamera`` is served at
``rtsp://HOST:PORT/<id>/main`` and, when it has a ``sub`` stream, ``.../<id>/sub``:

* scenes: ``tunnel`` (dark lanes, lit vehicles moving at a steady speed), ``road`` (grey road,
  lane lines, coloured vehicles), ``ball`` (``videotestsrc pattern=ball``) and ``audio-only``
  (a tone and no video at all, to test clients against a stream without video). Every video
  frame shows the label, the wall clock with milliseconds and a frame number, and at the
  bottom a machine-readable strip with its capture time in ms (``timecode.read_timecode``
  reads it back from any decoded frame);
* encoding: H.264 (x264, ultrafast, true CBR at ``bitrate_kbps`` thanks to filler NAL units)
  or H.265 (x265, at most ``bitrate_kbps``), a keyframe exactly every ``gop`` frames,
  optional B-frames, SPS/PPS in-band before every keyframe or, with
  ``sdp_only_parameter_sets``, only in the SDP; optional PCMA audio track;
* access: optional basic or digest authentication per camera (wrong credentials get 401);
  ``shared`` cameras run one encoder for all clients, each client with its own RTSP session;
* control: ``stop_camera`` makes a camera unreachable: its mounts go (new clients get 404)
  and every client with a session on it is disconnected at once (the TCP connection closes,
  a reader sees end of stream within milliseconds); ``start_camera`` brings it back with
  fresh pipelines; ``sessions`` counts the RTSP sessions (clients past SETUP) on its mounts.

Cost (measured on the 2-core box, server process, one client): a 640x360 25 fps camera about
5 % of one core, 1280x720 25 fps about 15 % (x264 is most of it), H.265 640x360 about 11 %.
A pipeline runs only while someone watches; 4 shared 640x360 cameras with 120 clients cost
about 24 %. The server exits when the pipe to it closes, so a crashed test leaves no server.

Example::

    with CameraSimulator([SimulatedCamera(id="tunnel-01", scene="tunnel")]).start() as sim:
        url = sim.url("tunnel-01")          # rtsp://127.0.0.1:PORT/tunnel-01/main
        sim.stop_camera("tunnel-01")        # cable cut
        sim.start_camera("tunnel-01")       # back
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any, Callable
from urllib.parse import quote

__all__ = [
    "CameraSimulator",
    "SimulatedCamera",
    "SimulatorError",
    "SERVER_SCRIPT",
    "SYSTEM_PYTHON",
    "demo_cameras",
    "simulator_available",
    "simulator_unavailable_reason",
]

SERVER_SCRIPT = Path(__file__).with_name("gst_server.py")
SYSTEM_PYTHON = "/usr/bin/python3"
SCENES = ("tunnel", "road", "ball", "audio-only")
CAMERA_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class SimulatorError(RuntimeError):
    """The simulator could not start, died, or did not answer a command."""


@dataclass
class SimulatedCamera:
    """One simulated camera; field names and meaning as in gst_server.py's JSON spec.

    ``gop`` is the keyframe interval in frames; ``sub`` is ``None`` or a dict with any of
    ``width``, ``height``, ``fps``, ``bitrate_kbps``, ``gop``, ``bframes``, ``codec``
    (missing ones come from the main stream; ``gop`` defaults to the sub's fps).
    """

    id: str
    scene: str = "road"
    width: int = 640
    height: int = 360
    fps: int = 25
    bitrate_kbps: int = 1000
    gop: int = 25
    bframes: int = 0
    codec: str = "h264"
    audio: bool = False
    sdp_only_parameter_sets: bool = False
    sub: dict[str, Any] | None = None
    username: str | None = None
    password: str | None = None
    auth: str = "basic"
    shared: bool = True
    label: str | None = None
    protocols: str = "any"  # "udp": refuses RTP over TCP with 461, as some cameras do; or "tcp"

    def __post_init__(self) -> None:
        if not CAMERA_ID.fullmatch(self.id or ""):
            raise ValueError(f"camera id must be letters, digits, '.', '_' or '-': {self.id!r}")
        if self.scene not in SCENES:
            raise ValueError(f"scene must be one of {SCENES}, not {self.scene!r}")
        if self.codec not in ("h264", "h265"):
            raise ValueError(f"codec must be h264 or h265, not {self.codec!r}")
        if self.auth not in ("basic", "digest"):
            raise ValueError(f"auth must be basic or digest, not {self.auth!r}")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        if self.protocols not in ("any", "udp", "tcp"):
            raise ValueError(f"protocols must be any, udp or tcp, not {self.protocols!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())


def demo_cameras(count: int = 4, width: int = 1280, height: int = 720, fps: int = 25) -> list[SimulatedCamera]:
    """`count` cameras alternating tunnel and road scenes, each with a 640x360 sub stream."""
    cameras = []
    for index in range(1, count + 1):
        scene = "tunnel" if index % 2 else "road"
        cameras.append(
            SimulatedCamera(
                id=f"{scene}-{index:02d}",
                scene=scene,
                width=width,
                height=height,
                fps=fps,
                gop=fps,
                bitrate_kbps=max(300, width * height * fps // 11_500),
                sub={"width": min(width, 640), "height": min(height, 360), "fps": min(fps, 10), "bitrate_kbps": 400},
                label=f"{scene.upper()} {index:02d}",
            )
        )
    return cameras


@functools.lru_cache(maxsize=None)
def simulator_unavailable_reason(python: str = SYSTEM_PYTHON) -> str | None:
    """Why the simulator cannot run here, or None when it can (`python` imports GstRtspServer
    and finds x264enc and compositor). Cached: asked once per process."""
    if not os.access(python, os.X_OK):
        return f"{python} not found (the simulator needs Debian's python3 with python3-gi)"
    probe = (
        "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0'); "
        "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
        "missing = [e for e in ('x264enc', 'x265enc', 'compositor', 'textoverlay', 'rtph264pay', 'alawenc') "
        "if not Gst.ElementFactory.find(e)]; "
        "assert not missing, 'GStreamer elements missing: ' + ' '.join(missing)"
    )
    try:
        done = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{python} cannot run: {exc}"
    if done.returncode == 0:
        return None
    tail = (done.stderr.strip().splitlines() or ["?"])[-1]
    return (
        "GStreamer RTSP server missing for the camera simulator (apt: gir1.2-gst-rtsp-server-1.0 python3-gi "
        f"gstreamer1.0-plugins-base/good/ugly/bad): {tail}"
    )


def simulator_available(python: str = SYSTEM_PYTHON) -> bool:
    """True when `python` (Debian's /usr/bin/python3) can import gi's GstRtspServer."""
    return simulator_unavailable_reason(python) is None


class CameraSimulator:
    """A running RTSP server for `cameras` (a subprocess); use as a context manager.

    ``port=0`` lets the server pick a free port (read ``.port`` after ``start()``). Commands are
    thread-safe: one at a time over the pipes, each with a timeout.
    """

    def __init__(
        self,
        cameras: list[SimulatedCamera],
        port: int = 0,
        host: str = "127.0.0.1",
        python: str = SYSTEM_PYTHON,
    ):
        ids = [camera.id for camera in cameras]
        if len(set(ids)) != len(ids):
            raise ValueError(f"camera ids must be unique: {ids}")
        self.cameras = {camera.id: camera for camera in cameras}
        self.host = host
        self.port = port
        self.python = python
        self._requested_port = port
        self._process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        self._lines: deque[str] = deque()
        self._lines_ready = threading.Condition()
        self._stderr_tail: deque[str] = deque(maxlen=60)
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 15) -> "CameraSimulator":
        """Launch the server and wait for its `ready <port>` line."""
        if self._process is not None:
            raise SimulatorError("simulator already started")
        spec = json.dumps([camera.to_dict() for camera in self.cameras.values()])
        command = [
            self.python,
            "-u",
            str(SERVER_SCRIPT),
            "--port",
            str(self._requested_port),
            "--address",
            self.host,
            "--spec-json",
            spec,
        ]
        try:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                bufsize=1,
                close_fds=True,
            )
        except OSError as exc:
            raise SimulatorError(f"cannot run {self.python}: {exc}") from exc
        for target, stream in ((self._read_stdout, self._process.stdout), (self._read_stderr, self._process.stderr)):
            thread = threading.Thread(target=target, args=(stream,), name="camera-simulator-io", daemon=True)
            thread.start()
            self._threads.append(thread)
        try:
            line = self._next_line(timeout, lambda text: text.startswith("ready "))
            self.port = int(line.split()[1])
        except Exception as exc:
            self.close()
            if isinstance(exc, SimulatorError):
                raise
            raise SimulatorError(f"simulator did not start: {exc}{self._stderr_text()}") from exc
        return self

    def close(self, timeout: float = 5) -> None:
        """Ask the server to quit, wait for it, kill it if it does not go."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            try:
                with self._lock:
                    assert process.stdin is not None  # started with stdin=PIPE
                    process.stdin.write("quit\n")
                    process.stdin.flush()
            except (OSError, ValueError):
                pass
        try:
            if process.stdin:
                process.stdin.close()
        except (OSError, ValueError):
            pass
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        for thread in self._threads:
            thread.join(timeout=2)
        self._threads.clear()
        self._process = None

    def __enter__(self) -> "CameraSimulator":
        if self._process is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:  # last resort: never leave a server behind
        process = getattr(self, "_process", None)
        if process is not None and process.poll() is None:
            try:
                process.kill()
            except OSError:
                pass

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    # ------------------------------------------------------------------ cameras

    def url(self, camera_id: str, stream: str = "main", with_credentials: bool = False) -> str:
        """rtsp://HOST:PORT/<id>/<stream>, with user:password@ when asked and the camera has them."""
        camera = self._camera(camera_id)
        if stream not in ("main", "sub"):
            raise ValueError(f"stream must be main or sub, not {stream!r}")
        credentials = ""
        if with_credentials and camera.username is not None:
            credentials = f"{quote(camera.username, safe='')}:{quote(camera.password or '', safe='')}@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"rtsp://{credentials}{host}:{self.port}/{camera_id}/{stream}"

    def stop_camera(self, camera_id: str, timeout: float = 10) -> None:
        """Make the camera unreachable: its mounts go and its connected clients are cut off."""
        self._camera(camera_id)
        self._command(f"stop {camera_id}", f"ok stop {camera_id}", timeout)

    def start_camera(self, camera_id: str, timeout: float = 10) -> None:
        """Serve the camera again (fresh pipelines)."""
        self._camera(camera_id)
        self._command(f"start {camera_id}", f"ok start {camera_id}", timeout)

    def sessions(self, camera_id: str, timeout: float = 10) -> int:
        """How many RTSP sessions (clients past SETUP) the camera's mounts have now."""
        self._camera(camera_id)
        answer = self._command(f"sessions {camera_id}", f"sessions {camera_id} ", timeout)
        return int(answer.split()[2])

    # ------------------------------------------------------------------ plumbing

    def _camera(self, camera_id: str) -> SimulatedCamera:
        try:
            return self.cameras[camera_id]
        except KeyError:
            raise KeyError(f"no simulated camera {camera_id!r}") from None

    def _command(self, command: str, expect_prefix: str, timeout: float) -> str:
        with self._lock:
            process = self._process
            if process is None or process.poll() is not None:
                raise SimulatorError(f"simulator is not running{self._stderr_text()}")
            with self._lines_ready:
                self._lines.clear()
            try:
                assert process.stdin is not None  # started with stdin=PIPE
                process.stdin.write(command + "\n")
                process.stdin.flush()
            except (OSError, ValueError) as exc:
                raise SimulatorError(f"cannot send {command!r}: {exc}{self._stderr_text()}") from exc
            answer = self._next_line(timeout, lambda line: line.startswith(expect_prefix) or line.startswith("error"))
            if answer.startswith("error"):
                raise SimulatorError(f"{command!r}: {answer}")
            return answer

    def _next_line(self, timeout: float, accept: Callable[[str], bool]) -> str:
        deadline = time.monotonic() + timeout
        with self._lines_ready:
            while True:
                while self._lines:
                    line = self._lines.popleft()
                    if accept(line):
                        return line
                if self._process is None or self._process.poll() is not None and not self._lines:
                    code = self._process.poll() if self._process is not None else None
                    raise SimulatorError(f"simulator exited (code {code}){self._stderr_text()}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SimulatorError(f"simulator did not answer within {timeout:g} s{self._stderr_text()}")
                self._lines_ready.wait(min(remaining, 0.2))

    def _read_stdout(self, stream: IO[str]) -> None:
        for line in stream:
            with self._lines_ready:
                self._lines.append(line.strip())
                self._lines_ready.notify_all()
        with self._lines_ready:
            self._lines_ready.notify_all()

    def _read_stderr(self, stream: IO[str]) -> None:
        for line in stream:
            line = line.rstrip()
            if line.startswith("gst_server: ") and ": ( " in line:
                continue  # launch lines: long and only useful when reading the server by hand
            self._stderr_tail.append(line)

    def _stderr_text(self) -> str:
        time.sleep(0.05)  # let the reader catch the last words of a dying server
        tail = [line for line in self._stderr_tail if line]
        return ("\n--- simulator stderr ---\n" + "\n".join(tail[-25:])) if tail else ""
