"""Probing as a port scanner (issue 13): a technician could map this machine's open ports and
register ``127.0.0.1:6379`` or ``0x7f000001`` as cameras. By default loopback, link-local and
vms's own services are refused; the test and demo configurations let loopback through on purpose."""

from __future__ import annotations

import pytest

from tests.support.api import api_system
from vms.config.security import SecurityConfig

REFUSED = ["rtsp://127.0.0.1:6379/", "rtsp://0x7f000001:22/", "rtsp://2130706433/", "rtsp://127.1:5432/",
           "rtsp://localhost:8080/", "rtsp://169.254.169.254/latest", "rtsp://[::1]:554/", "rtsp://[::ffff:127.0.0.1]/",
           "rtsp://0.0.0.0:554/"]


def _default_security() -> dict:
    return {"security": SecurityConfig().model_dump(mode="json")}  # what an installation gets


@pytest.mark.parametrize("url", REFUSED)
async def test_probing_or_registering_this_machine_is_refused_by_default(tmp_path, url):
    async with api_system(tmp_path, **_default_security()) as system:
        tech = system.token("technician")
        probe = await system.client.post("/api/cameras/probe", json={"url": url, "seconds": 1}, headers=tech)
        assert probe.status_code == 422 and probe.json()["type"] == "/problems/camera-address-refused", probe.text
        camera = {"id": "cam-1", "name": "x", "group": "gateway", "main_url": url}
        added = await system.client.post("/api/cameras", json=camera, headers=tech)
        assert added.status_code == 422 and added.json()["type"] == "/problems/camera-address-refused"
        # Nor can a registered camera be pointed there afterwards.
        system.add_camera("cam-2", "gateway")
        moved = await system.client.patch("/api/cameras/cam-2", json={"sub_url": url}, headers=tech)
        assert moved.status_code == 422
        entries = (await system.client.get("/api/audit", params={"action": "camera.probe.refused"},
                                           headers=system.token("admin"))).json()
        assert len(entries) == 1 and entries[0]["username"] == "technician"


async def test_our_own_services_stay_refused_even_where_loopback_is_allowed(tmp_path):
    async with api_system(tmp_path, redis_url=None, database_url=None) as system:  # tests allow 127.0.0.0/8
        system.set_security(camera_addresses=system.security.camera_addresses.model_copy(
            update={"deny_services": ["127.0.0.1:6379", "127.0.0.1:5432"]}))
        tech = system.token("technician")
        for url in ("rtsp://127.0.0.1:6379/", "rtsp://0x7f000001:5432/"):
            probe = await system.client.post("/api/cameras/probe", json={"url": url, "seconds": 1}, headers=tech)
            assert probe.status_code == 422 and "own services" in probe.json()["detail"]
        # A simulated camera on another loopback port is let through (and here simply finds nothing).
        fine = await system.client.post("/api/cameras/probe", json={"url": "rtsp://127.0.0.1:9/none", "seconds": 1},
                                        headers=tech)
        assert fine.status_code == 200 and fine.json()["ok"] is False


async def test_a_camera_already_on_a_refused_address_can_be_renamed_but_not_moved(tmp_path):
    """Registered on the host (`vms camera add`, no address policy there) at a loopback URL: a
    rename through the API is not an address change and must pass (a trial got 422); pointing its
    sub-stream at another refused address still is refused."""
    async with api_system(tmp_path, **_default_security()) as system:
        system.add_camera("cam-3", "gateway", main_url="rtsp://127.0.0.1:8554/tunnel-01/main")
        tech = system.token("technician")
        renamed = await system.client.patch("/api/cameras/cam-3", json={"name": "Tunnel 1"}, headers=tech)
        assert renamed.status_code == 200 and renamed.json()["name"] == "Tunnel 1", renamed.text
        moved = await system.client.patch("/api/cameras/cam-3", json={"sub_url": "rtsp://127.0.0.1:6379/"}, headers=tech)
        assert moved.status_code == 422 and moved.json()["type"] == "/problems/camera-address-refused"


async def test_ordinary_camera_addresses_pass(tmp_path):
    async with api_system(tmp_path, **_default_security()) as system:
        camera = {"id": "gate-9", "name": "Gate 9", "group": "gateway", "main_url": "rtsp://10.20.1.11:554/s"}
        assert (await system.client.post("/api/cameras", json=camera, headers=system.token("technician"))).status_code == 201


def test_the_services_of_the_settings_are_refused_as_cameras():
    from vms.cameras.addresses import CameraAddressRefused, policy_of
    from vms.config import Settings

    settings = Settings(redis_url="redis://127.0.0.1:6379/0", database_url="postgresql://vms@127.0.0.1:5432/vms",
                        http={"host": "0.0.0.0", "port": 8080},
                        security={"camera_addresses": {"allow": ["127.0.0.0/8"]}})
    policy = policy_of(settings)
    for url in ("rtsp://127.0.0.1:6379/", "rtsp://127.0.0.1:5432/", "rtsp://localhost:8080/"):
        with pytest.raises(CameraAddressRefused):
            policy.check_url(url)
    policy.check_url("rtsp://127.0.0.1:8554/tunnel-01/main")


def test_the_demo_config_lets_its_simulated_cameras_on_loopback_through():
    from pathlib import Path

    from vms.cameras.addresses import CameraAddressRefused, policy_of
    from vms.config import load_settings

    demo = load_settings(Path(__file__).resolve().parents[1] / "config" / "demo.yaml")
    policy = policy_of(demo)
    for camera in demo.cameras:
        policy.check_url(camera.main_url)  # rtsp://127.0.0.1:8554/...: allowed on purpose
    with pytest.raises(CameraAddressRefused):  # the same cameras under the defaults
        policy_of(demo, SecurityConfig().camera_addresses).check_url(demo.cameras[0].main_url)
