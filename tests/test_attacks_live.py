"""Live video (issue 13): WHEP flooding, sessions that outlived a disabled user, unaudited snapshots."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import select

from tests.support.feeder import PacketFeeder
from tests.support.live_system import live_system, offline_camera
from tests.support.whep_client import make_offer
from vms.auth.audit import CoalescedAudit
from vms.auth.roles import Role
from vms.auth.sessions import create_session
from vms.auth.users import Users, random_password
from vms.config.live import LiveConfig
from vms.db.auth import AuditEntry

SDP = {"Content-Type": "application/sdp"}


def _user(system, username: str, role: Role = Role.OPERATOR) -> tuple[int, dict]:
    runtime = system.runtime
    users = Users(runtime.db, runtime.settings.security)
    user = users.add(username, random_password(), role)
    if role == Role.OPERATOR and not any(g["role"] == "operator" for g in users.grants()):
        users.add_grant("tunnel", ["live"], role="operator")
    token = create_session(runtime.db, user.id, runtime.settings.security, kind="api", name="t").token
    return user.id, {"Authorization": f"Bearer {token}"}


def _sessions_of(system, camera_id: str) -> int:
    return sum(s.camera_id == camera_id for s in system.hub.sessions())


async def test_one_user_cannot_fill_a_cameras_viewer_slots_with_offers_that_never_connect(tmp_path):
    assert LiveConfig().connect_timeout_seconds <= 8  # unanswered offers are dropped soon
    with live_system(tmp_path, [offline_camera("cam1")], live={"max_viewers_per_camera": 8}) as system:
        _, flooder = _user(system, "flooder")
        _, colleague = _user(system, "colleague")
        pcs = []
        async with httpx.AsyncClient(base_url=system.url, timeout=20) as client:
            statuses = []
            for _ in range(12):
                pc, offer = await make_offer()
                pcs.append(pc)
                response = await client.post("/api/cameras/cam1/whep", content=offer, headers={**SDP, **flooder})
                statuses.append(response.status_code)
            assert statuses.count(201) == 4 and statuses[4:] == [429] * 8
            refused = await client.post("/api/cameras/cam1/whep", content=offer, headers={**SDP, **flooder})
            assert refused.json()["type"] == "/problems/too-many-connecting"
            assert _sessions_of(system, "cam1") == 4
            # The camera still has room for everybody else.
            pc, offer = await make_offer()
            pcs.append(pc)
            ok = await client.post("/api/cameras/cam1/whep", content=offer, headers={**SDP, **colleague})
            assert ok.status_code == 201
        for pc in pcs:
            await pc.close()


async def test_disabling_a_user_ends_their_live_sessions_and_event_stream_at_once(tmp_path):
    with live_system(tmp_path, [offline_camera("cam1")]) as system:
        _, operator = _user(system, "night-shift")
        pc, offer = await make_offer()
        async with httpx.AsyncClient(base_url=system.url, timeout=30) as client:
            started = await client.post("/api/cameras/cam1/whep", content=offer, headers={**SDP, **operator})
            assert started.status_code == 201
            assert _sessions_of(system, "cam1") == 1
            async with client.stream("GET", "/api/events/stream", headers=operator) as stream:
                lines = stream.aiter_lines()
                assert await asyncio.wait_for(anext(lines), 10) == ": connected"
                disabled = await client.patch("/api/users/night-shift", json={"disabled": True}, headers=system.auth)
                assert disabled.status_code == 200 and disabled.json()["disabled"] is True
                assert _sessions_of(system, "cam1") == 0  # gone when the answer came back

                async def rest() -> list[str]:
                    return [line async for line in lines]

                remaining = await asyncio.wait_for(rest(), 10)  # the stream ends instead of waiting for keepalives
                assert not any(line.startswith("data:") for line in remaining)
        await pc.close()


async def test_removing_a_grant_ends_the_live_sessions_it_allowed(tmp_path):
    with live_system(tmp_path, [offline_camera("cam1")]) as system:
        _, operator = _user(system, "day-shift")
        pc, offer = await make_offer()
        async with httpx.AsyncClient(base_url=system.url, timeout=30) as client:
            assert (await client.post("/api/cameras/cam1/whep", content=offer, headers={**SDP, **operator})).status_code == 201
            [grant] = (await client.get("/api/grants", headers=system.auth)).json()
            assert (await client.delete(f"/api/grants/{grant['id']}", headers=system.auth)).status_code == 204
            assert _sessions_of(system, "cam1") == 0
            refused = await client.post("/api/cameras/cam1/whep", content=offer, headers={**SDP, **operator})
            assert refused.status_code == 404  # the camera is no longer theirs to see
        await pc.close()


async def test_snapshots_are_audited_once_per_user_and_camera_and_window(tmp_path):
    with live_system(tmp_path, [offline_camera("cam1")]) as system:
        feeder = PacketFeeder(system.fanout("cam1"), 320, 180).start()
        try:
            async with httpx.AsyncClient(base_url=system.url, headers=system.auth, timeout=10) as client:
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 30
                while (await client.get("/api/cameras/cam1/snapshot.jpg")).status_code != 200:  # first keyframe
                    assert loop.time() < deadline, "no picture from the fed camera"
                for _ in range(4):
                    assert (await client.get("/api/cameras/cam1/snapshot.jpg")).status_code == 200
        finally:
            feeder.stop()
        with system.runtime.db.session() as session:
            entries = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "live.snapshot")))
        assert [(e.username, e.target, e.detail["uses_since_last_entry"]) for e in entries] == [("live-admin", "cam1", 0)]


def test_the_coalesced_audit_reports_the_uses_in_between(db):
    class Person:
        username, role = "op1", "operator"

    coalesced = CoalescedAudit(window_seconds=60)
    written = [coalesced.record(db, Person(), "live.snapshot", "cam1", now=t) for t in (0, 1, 2, 30, 61, 62)]
    assert written == [True, False, False, False, True, False]
    assert coalesced.record(db, Person(), "live.snapshot", "cam2", now=62) is True  # per camera
    with db.session() as session:
        details = [(e.target, e.detail["uses_since_last_entry"]) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert details == [("cam1", 0), ("cam1", 3), ("cam2", 0)]
