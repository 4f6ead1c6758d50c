"""``vms run``: the API process's ``/metrics`` counts the live viewers served by the worker process
(they reach it through the worker's heartbeat on the local bus; the API has no hub of its own)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys

import httpx
import pytest

import vms.db.auth  # noqa: F401  (registers the users and sessions tables)
from streams.simulator import CameraSimulator, SimulatedCamera, simulator_available
from tests.support.cluster import ROOT, free_port, stop_process, write_config
from tests.support.system import FAST_INGEST
from tests.support.whep_client import WhepViewer
from vms.auth.roles import Role
from vms.auth.sessions import create_session
from vms.auth.users import Users, random_password
from vms.config import Settings
from vms.db import Database

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
        port = free_port()
        data = tmp_path / "data"
        config = write_config(
            tmp_path / "vms.yaml", data_dir=str(data), ingest=FAST_INGEST, storage={"min_free": 0},
            cameras=[{"id": "cam-1", "name": "cam-1", "group": "tunnel", "main_url": sim.url("cam-1"),
                      "recording": {"segment_seconds": 2}}],
        )
        settings = Settings(data_dir=data)
        data.mkdir()
        db = Database(settings.effective_database_url)
        db.create_schema()
        admin = Users(db, settings.security).add("admin", random_password(), Role.ADMIN)
        auth = {"Authorization": f"Bearer {create_session(db, admin.id, settings.security, kind='api', name='t').token}"}
        db.dispose()
        url = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("VMS_")}
        env["VMS_METRICS__PORT"] = str(free_port())  # the worker's own endpoint: never a fixed port in tests
        log = tmp_path / "vms.log"
        supervisor = subprocess.Popen(
            [sys.executable, "-m", "vmsapp.cli", "run", "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
            stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=ROOT, env=env,
        )
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
