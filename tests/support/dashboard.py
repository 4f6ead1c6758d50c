"""The operators' dashboard in real Chromium against a real vms and real simulated cameras.

One system for a whole test module: a simulator with small cameras (one of them with a
sub-stream, one left unregistered for the probe test), vms with short health thresholds so a
cut camera raises ``camera_offline`` within seconds, and one signed-in browser page.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator, Iterator

from streams.simulator import CameraSimulator, SimulatedCamera
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, artifact, console_log
from tests.support.live_system import ADMIN, LiveSystem, live_system
from tests.support.system import camera_entry
from vms.auth.sessions import create_session
from vms.auth.users import Users

SMALL = dict(width=320, height=180, fps=25, gop=25, bitrate_kbps=250)
WALL_CAMERAS = ["tunnel-01", "road-02", "tunnel-03", "road-04"]
SUB_CAMERA = "tunnel-01"  # the one camera with a sub-stream
SPARE_CAMERA = "gate-05"  # served by the simulator, registered through the dashboard
# Around Thủ Thiêm (lat, lon), so the map has something to place.
POSITIONS = {
    "tunnel-01": (10.7768, 106.7130), "road-02": (10.7870, 106.7255),
    "tunnel-03": (10.7742, 106.7185), "road-04": (10.7905, 106.7340),
}


@dataclass
class Dashboard:
    system: LiveSystem
    sim: CameraSimulator
    page: object = None
    console: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.system.url

    @property
    def username(self) -> str:
        return ADMIN

    @property
    def password(self) -> str:
        return self.system.password

    def token_of(self, username: str) -> str:
        """A fresh API token of ``username`` (for checking what another user sees)."""
        runtime = self.system.runtime
        user = Users(runtime.db, runtime.settings.security).get(username)
        return create_session(runtime.db, user.id, runtime.settings.security, kind="api", name="dashboard tests").token

    async def screen(self, name: str) -> None:
        """Open a screen from the menu and wait until it is the one shown."""
        await self.page.click(f'.nav-item[data-screen="{name}"]')
        await self.page.wait_for_selector(f"#screen-{name}:not([hidden])")

    async def shot(self, name: str) -> Path:
        path = artifact(f"dashboard-{name}.png")
        await self.page.screenshot(path=str(path))
        return path

    async def wait_js(self, expression: str, what: str, timeout: float = 20, arg=None):
        """Wait until ``expression`` (a JS function body of ``arg``) is truthy; its value is returned."""
        try:
            handle = await self.page.wait_for_function(expression, arg=arg, timeout=timeout * 1000, polling=250)
        except Exception as exc:
            raise AssertionError(f"timed out waiting for {what}\n" + "\n".join(self.console[-15:])) from exc
        return await handle.json_value()


def dashboard_cameras() -> list[SimulatedCamera]:
    cameras = []
    for camera_id in WALL_CAMERAS:
        sub = {"width": 160, "height": 90, "bitrate_kbps": 100} if camera_id == SUB_CAMERA else None
        cameras.append(SimulatedCamera(id=camera_id, scene=camera_id.split("-")[0], label=camera_id, sub=sub, **SMALL))
    cameras.append(SimulatedCamera(id=SPARE_CAMERA, scene="road", label=SPARE_CAMERA, **SMALL))
    return cameras


@contextmanager
def dashboard_system(data_dir: Path, **settings) -> Iterator[Dashboard]:
    """Simulator + vms (recording in 10 s segments, offline after 2 s, 4 s before an event);
    ``settings`` adds settings (e.g. ``alarms``)."""
    with CameraSimulator(dashboard_cameras()).start() as sim:
        entries = []
        for camera_id in WALL_CAMERAS:
            lat, lon = POSITIONS[camera_id]
            extra = {"location": {"lat": lat, "lon": lon, "description": f"near {camera_id}"}}
            if camera_id == SUB_CAMERA:
                extra["sub_url"] = sim.url(camera_id, "sub")
            entries.append(camera_entry(sim, camera_id, segment_seconds=10, **extra))
        overrides = {
            "detection": {"offline_after_seconds": 2},
            "events": {"pre_event_seconds": 4, "post_event_seconds": 4},
            **settings,
        }
        with live_system(data_dir, entries, **overrides) as system:
            yield Dashboard(system, sim)


@asynccontextmanager
async def dashboard_browser(dashboard: Dashboard, width: int = 1366, height: int = 800,
                            locale: str | None = None, timezone_id: str | None = None) -> AsyncIterator[object]:
    """One Chromium page for the module; console lines are kept on ``dashboard.console``.

    ``locale`` and ``timezone_id`` (e.g. "en-US", "America/New_York") set the browser's own, to
    show the UI writes and reads the command centre's dd/mm/yyyy HH:mm whatever they are."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True,
                                                locale=locale, timezone_id=timezone_id)
            page = await context.new_page()
            page.on("console", lambda m: dashboard.console.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: dashboard.console.append(f"pageerror: {e}"))
            dashboard.page = page
            yield page
        finally:
            await browser.close()


async def wait_until(predicate, timeout: float, what: str, interval: float = 0.25):
    """Poll a Python predicate (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})\n" + "\n".join(console_log()[-10:]))
