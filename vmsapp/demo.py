"""`vms demo`: the whole system on one machine with simulated cameras, for a first look.

Starts the camera simulator with one synthetic camera per camera of the config (tunnel
scenes for the tunnel group, roads for the others), then vms itself, and prints the URL and
a one-time admin login.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from streams.simulator import CameraSimulator, SimulatedCamera
from vms.config import Settings


class DemoConfigError(ValueError):
    pass


def simulated_cameras(settings: Settings, width: int, height: int, fps: int) -> tuple[int, list[SimulatedCamera]]:
    """The simulator port and cameras that serve every camera URL of ``settings``."""
    ports = {urlsplit(camera.main_url).port for camera in settings.cameras}
    if len(ports) != 1 or None in ports:
        raise DemoConfigError("demo cameras must all point at one simulator port (rtsp://127.0.0.1:PORT/<id>/main)")
    cameras = []
    for camera in settings.cameras:
        if urlsplit(camera.main_url).path != f"/{camera.id}/main":
            raise DemoConfigError(f"camera {camera.id}: demo URL path must be /{camera.id}/main")
        sub = None
        if camera.sub_url:
            sub = {"width": min(width, 640), "height": min(height, 360), "fps": min(fps, 10), "bitrate_kbps": 400}
        cameras.append(
            SimulatedCamera(
                id=camera.id,
                scene="tunnel" if camera.group == "tunnel" else "road",
                width=width,
                height=height,
                fps=fps,
                gop=fps,
                bitrate_kbps=1500,
                sub=sub,
                label=camera.id.upper(),
            )
        )
    return ports.pop(), cameras


def start_simulator(settings: Settings, width: int = 1280, height: int = 720, fps: int = 25) -> CameraSimulator:
    port, cameras = simulated_cameras(settings, width, height, fps)
    return CameraSimulator(cameras, port=port).start()
