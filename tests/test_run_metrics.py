"""``vms run``: the API process's ``/metrics`` counts the live viewers served by the worker process
(they reach it through the worker's heartbeat on the local bus; the API has no hub of its own)."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

import vms.db.auth  # noqa: F401  (registers the users and sessions tables)
from streams.simulator import CameraSimulator, SimulatedCamera, simulator_available
from tests.support.cluster import stop_process
from tests.support.supervised import start_run
from tests.support.whep_client import WhepViewer

pytestmark = [
    pytest.mark.skipif(not simulator_available(), reason="GStreamer RTSP server (Debian packages) missing"),
    pytest.mark.timeout(180),
]

VIEWERS = re.compile(r'^vms_live_viewers\{camera="cam-1"\} (\S+)$', re.M)


async def viewers_reported(url: str, auth: dict) -> float | None:
    async with httpx.AsyncClient(timeout=5) as client:
        try:
            response = await client.get(f"{url}/metrics", headers=auth)
        except httpx.HTTPError:
            return None
    found = VIEWERS.search(response.text) if response.status_code == 200 else None
    return float(found.group(1)) if found else None


async def wait_online(url: str, auth: dict, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        async with httpx.AsyncClient(timeout=5) as client:
            try:
                response = await client.get(f"{url}/metrics", headers=auth)
                if re.search(r'^vms_camera_up\{camera="cam-1",stream="main"\} 1\.0$', response.text, re.M):
                    return
            except httpx.HTTPError:
                pass
        await asyncio.sleep(0.5)
    raise AssertionError("cam-1 never reported up in the API's /metrics")


async def wait_viewers(url: str, auth: dict, expected: float, timeout: float) -> None:
    """Until /metrics reports ``expected`` viewers of cam-1 (no sample counts as 0)."""
    deadline = asyncio.get_running_loop().time() + timeout
    last = None
    while asyncio.get_running_loop().time() < deadline:
        last = await viewers_reported(url, auth)
        if (last or 0.0) == expected:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"/metrics reports {last} viewers of cam-1, expected {expected}")


async def test_api_metrics_count_the_worker_processs_live_viewers(tmp_path):
    mount = SimulatedCamera(id="cam-1", width=320, height=180, fps=25, gop=25, bitrate_kbps=250)
    with CameraSimulator([mount]).start() as sim:
        run = start_run(tmp_path, sim.url("cam-1"))
        url, auth, db, log, supervisor = run.url, run.auth, run.db, run.log, run.process
        db.dispose()  # only the token was needed
        viewer = None
        try:
            await wait_online(url, auth, 90)
            viewer = await WhepViewer(url, "cam-1", headers=auth).start()
            await viewer.wait_frames(5, timeout=30)
            await wait_viewers(url, auth, 1.0, 20)
            await viewer.stop()
            viewer = None
            await wait_viewers(url, auth, 0.0, 20)
        finally:
            if viewer is not None:
                await viewer.stop()
            stop_process(supervisor)
        assert supervisor.returncode == 0, log.read_text()[-2000:]
