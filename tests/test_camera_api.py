"""The camera registry API: credentials never leave, URLs are checked, changes are audited."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from streams.simulator import CameraSimulator, SimulatedCamera, simulator_available, simulator_unavailable_reason

from tests.support.api import api_system
from vms.db import Segment
from vms.db.auth import AuditEntry

SECRET = "S3cret-pw!x"
NAME = '<img src=x onerror="alert(1)"> Cổng Thủ Thiêm'


def _audit(db, action: str) -> list[AuditEntry]:
    with db.session() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


async def test_register_edit_disable_remove_without_ever_showing_credentials(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    async with api_system(tmp_path) as system:
        tech = system.token("technician")
        body = {"id": "gate-01", "name": NAME, "group": "gateway", "main_url": f"rtsp://admin:{SECRET}@10.1.1.5:554/s1",
                "sub_url": f"rtsp://admin:{SECRET}@10.1.1.5:554/s2", "location": {"lat": 10.77, "lon": 106.72}}
        created = await system.client.post("/api/cameras", json=body, headers=tech)
        assert created.status_code == 201, created.text
        camera = created.json()
        assert camera["main_url"] == "rtsp://10.1.1.5:554/s1" and camera["sub_url"] == "rtsp://10.1.1.5:554/s2"
        assert camera["has_credentials"] is True and "password" not in camera and "username" not in camera
        # Names come back as given, in JSON (the browser UI escapes them when it shows them).
        assert camera["name"] == NAME and created.headers["content-type"] == "application/json"
        responses = [created]
        responses.append(await system.client.patch("/api/cameras/gate-01", json={"password": SECRET + "2", "name": "Gate 1"}, headers=tech))
        assert responses[-1].status_code == 200 and responses[-1].json()["name"] == "Gate 1"
        responses.append(await system.client.get("/api/cameras", headers=tech))
        responses.append(await system.client.get("/api/cameras/gate-01", headers=system.token("admin")))
        responses.append(await system.client.post("/api/cameras/gate-01/disable", headers=tech))
        assert responses[-1].json()["enabled"] is False
        responses.append(await system.client.post("/api/cameras/gate-01/enable", headers=tech))
        assert responses[-1].json()["enabled"] is True
        for response in responses:
            assert SECRET not in response.text and "admin@" not in response.text
        (update,) = _audit(system.db, "camera.update")
        assert update.detail == {"fields": ["name"], "credentials_changed": True}
        assert [e.target for e in _audit(system.db, "camera.add")] == ["gate-01"]
        assert len(_audit(system.db, "camera.disable")) == 1 and len(_audit(system.db, "camera.enable")) == 1
        # Operators see the camera (once granted its group) but not the camera network's addresses.
        from vms.auth.users import Users

        Users(system.db, system.security).add_grant("gateway", ["live"], role="operator")
        (seen,) = (await system.client.get("/api/cameras", headers=system.token("operator"))).json()
        assert "main_url" not in seen and seen["capabilities"] == ["camera.view", "event.view", "live"]
        # Removing keeps the recordings for retention to handle.
        with system.db.session() as session:
            start = datetime(2026, 1, 1, tzinfo=timezone.utc)
            session.add(Segment(camera_id="gate-01", start=start, end=start, path="gate-01/x.mp4", bytes=1234, codec="h264"))
        listed = (await system.client.get("/api/cameras", headers=tech)).json()
        assert listed[0]["storage"]["bytes"] == 1234 and listed[0]["storage"]["segments"] == 1
        assert (await system.client.delete("/api/cameras/gate-01", headers=tech)).status_code == 204
        assert (await system.client.get("/api/cameras", headers=tech)).json() == []
        with system.db.session() as session:
            assert session.scalar(select(Segment.path)) == "gate-01/x.mp4"
        assert len(_audit(system.db, "camera.remove")) == 1
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert SECRET not in logged and SECRET[:-2] not in logged


async def test_refusals_are_problems_in_plain_words(tmp_path):
    async with api_system(tmp_path) as system:
        tech = system.token("technician")
        cases = [
            ({"id": "c1", "name": "x", "group": "tunnel", "main_url": "file:///etc/passwd"}, 422, "must start with rtsp://"),
            ({"id": "c1", "name": "x", "group": "tunnel", "main_url": f"http://u:{SECRET}@cam/x"}, 422, "rtsp://"),
            ({"id": "c1", "name": "x", "group": "tunnel", "main_url": "rtsp://cam/x -f null"}, 422, "spaces"),
            ({"id": "../c1", "name": "x", "group": "tunnel", "main_url": "rtsp://cam/x"}, 422, "id"),
            ({"id": "c1", "name": "x", "group": "moon", "main_url": "rtsp://cam/x"}, 422, "group 'moon' does not exist"),
        ]
        for body, status, words in cases:
            response = await system.client.post("/api/cameras", json=body, headers=tech)
            assert response.status_code == status, response.text
            assert response.headers["content-type"] == "application/problem+json"
            assert words in response.json()["detail"] and SECRET not in response.text
        ok = {"id": "c1", "name": "x", "group": "tunnel", "main_url": "rtsp://cam/x"}
        assert (await system.client.post("/api/cameras", json=ok, headers=tech)).status_code == 201
        again = await system.client.post("/api/cameras", json=ok, headers=tech)
        assert again.status_code == 409 and again.json()["type"] == "/problems/camera-exists"
        login = await system.client.post("/api/auth/login", json={"username": "admin", "password": SECRET, "extra": 1})
        assert SECRET not in login.text


async def test_cameras_from_the_config_file_are_changed_there(tmp_path):
    camera = {"id": "cfg-1", "name": "From YAML", "group": "tunnel", "main_url": "rtsp://10.0.0.1/x"}
    async with api_system(tmp_path, cameras=[camera]) as system:
        tech = system.token("technician")
        for method, path in (("PATCH", "/api/cameras/cfg-1"), ("DELETE", "/api/cameras/cfg-1"), ("POST", "/api/cameras/cfg-1/disable")):
            response = await system.client.request(method, path, json={"name": "y"} if method == "PATCH" else None, headers=tech)
            assert response.status_code == 409 and "configuration file" in response.json()["detail"]


async def test_probe_reports_in_plain_words_and_hides_the_password(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    async with api_system(tmp_path) as system:
        # Nothing listens on the discard port: the probe must say so, quickly, without the password.
        response = await system.client.post(
            "/api/cameras/probe", json={"url": f"rtsp://admin:{SECRET}@127.0.0.1:9/stream", "seconds": 1},
            headers=system.token("technician"),
        )
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["ok"] is False and result["url"] == "rtsp://127.0.0.1:9/stream"
        assert "127.0.0.1:9" in result["error"] and result["snapshot_jpeg_base64"] is None
        assert SECRET not in response.text
        refused = await system.client.post("/api/cameras/probe", json={"url": "concat:/a|/b"}, headers=system.token("admin"))
        assert refused.status_code == 422
    assert SECRET not in "\n".join(r.getMessage() for r in caplog.records)


async def test_health_is_public_and_metrics_need_a_right(tmp_path):
    async with api_system(tmp_path) as system:
        system.add_camera("tun-1")
        with system.db.session() as session:
            start = datetime(2026, 1, 1, tzinfo=timezone.utc)
            session.add(Segment(camera_id="tun-1", start=start, end=start, path="tun-1/a.mp4", bytes=4096, codec="h264"))
        assert (await system.client.get("/healthz")).json()["status"] == "ok"
        await system.client.get("/api/cameras", headers=system.token("admin"))
        assert (await system.client.get("/metrics", headers=system.token("operator"))).status_code == 403
        metrics = await system.client.get("/metrics", headers=system.token("technician"))
        assert metrics.status_code == 200
        assert "vms_cameras_online 0.0" in metrics.text
        assert 'vms_recording_bytes{camera="tun-1"} 4096.0' in metrics.text
        assert 'vms_http_request_duration_seconds_count{method="GET",route="/api/cameras",status="200"}' in metrics.text


@pytest.mark.skipif(not simulator_available(), reason=simulator_unavailable_reason() or "")
async def test_probe_masks_the_username_only_as_a_whole_word_also_in_the_audit_log(tmp_path):
    # A username that is part of an ordinary word of the message ("camera") must not eat it.
    locked = SimulatedCamera(id="door", username="cam", password="right-one", width=160, height=96, bitrate_kbps=100)
    with CameraSimulator([locked]).start() as sim:
        async with api_system(tmp_path) as system:
            response = await system.client.post(
                "/api/cameras/probe", json={"url": sim.url("door"), "username": "cam", "password": "era", "seconds": 1},
                headers=system.token("technician"),
            )
            error = response.json()["error"]
            assert "401" in error and "check the camera's username and password" in error, error
            assert "***" not in error
            (entry,) = _audit(system.db, "camera.probe")
            assert entry.detail["error"] == error


@pytest.mark.skipif(not simulator_available(), reason=simulator_unavailable_reason() or "")
def test_probe_warns_about_b_frames_and_not_without_them():
    from streams.ingest import StreamSource
    from streams.probe import probe

    cameras = [SimulatedCamera(id=name, bframes=b, width=160, height=96, bitrate_kbps=100) for name, b in (("b", 2), ("p", 0))]
    with CameraSimulator(cameras).start() as sim:
        with_b = probe(StreamSource("b", "main", sim.url("b")), seconds=1.5)
        without = probe(StreamSource("p", "main", sim.url("p")), seconds=1.5)
    assert with_b.ok and with_b.has_b_frames and any("B-frames" in w for w in with_b.warnings)
    assert without.ok and not without.has_b_frames and not any("B-frames" in w for w in without.warnings)


async def test_the_rtp_transport_is_set_changed_and_checked(tmp_path):
    async with api_system(tmp_path) as system:
        tech = system.token("technician")
        body = {"id": "udp-cam", "name": "UDP", "group": "gateway", "main_url": "rtsp://10.1.1.9/s", "transport": "udp"}
        created = await system.client.post("/api/cameras", json=body, headers=tech)
        assert created.status_code == 201 and created.json()["transport"] == "udp"
        changed = await system.client.patch("/api/cameras/udp-cam", json={"transport": "tcp"}, headers=tech)
        assert changed.status_code == 200 and changed.json()["transport"] == "tcp"
        kept = await system.client.patch("/api/cameras/udp-cam", json={"name": "U"}, headers=tech)
        assert kept.json()["transport"] == "tcp"
        bad = await system.client.patch("/api/cameras/udp-cam", json={"transport": "http"}, headers=tech)
        assert bad.status_code == 422


async def test_the_rtsp_client_is_set_changed_cleared_and_checked(tmp_path):
    from vms.cameras.registry import CameraRegistry

    async with api_system(tmp_path) as system:
        tech = system.token("technician")
        body = {"id": "odd-cam", "name": "Odd", "group": "gateway", "main_url": "rtsp://10.1.1.9/s", "rtsp_client": "builtin"}
        created = await system.client.post("/api/cameras", json=body, headers=tech)
        assert created.status_code == 201 and created.json()["rtsp_client"] == "builtin"
        assert CameraRegistry(system.db).get("odd-cam").rtsp_client == "builtin"
        changed = await system.client.patch("/api/cameras/odd-cam", json={"rtsp_client": "ffmpeg"}, headers=tech)
        assert changed.status_code == 200 and changed.json()["rtsp_client"] == "ffmpeg"
        kept = await system.client.patch("/api/cameras/odd-cam", json={"name": "O"}, headers=tech)
        assert kept.json()["rtsp_client"] == "ffmpeg"
        cleared = await system.client.patch("/api/cameras/odd-cam", json={"rtsp_client": None}, headers=tech)
        assert cleared.status_code == 200 and cleared.json()["rtsp_client"] is None  # the global choice again
        assert CameraRegistry(system.db).get("odd-cam").rtsp_client is None
        for bad_value in ("gstreamer", ""):
            bad = await system.client.patch("/api/cameras/odd-cam", json={"rtsp_client": bad_value}, headers=tech)
            assert bad.status_code == 422
        refused = await system.client.post("/api/cameras", json={**body, "id": "bad-cam", "rtsp_client": "live555"},
                                           headers=tech)
        assert refused.status_code == 422
        assert (await system.client.get("/api/cameras/bad-cam", headers=tech)).status_code == 404
