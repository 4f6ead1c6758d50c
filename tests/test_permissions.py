"""Every route, called as every role and anonymously: allowed, or refused with 401/403/404.

The routes come from the app itself, so a route added without an access rule fails here.
The expectations are written from the roles table of ARCHITECTURE.md, independently of
vms.auth.roles, so a mistake in either shows.
"""

from __future__ import annotations

import asyncio
import re

import pytest

from dashboard.security import PUBLIC_MOUNTS, PUBLIC_PATHS, api_routes, route_label, route_rules
from tests.support.api import ROLES, api_system
from vms.cameras.registry import CameraNotFound, CameraRegistry
from vms.db import CameraRow

ANON = "anonymous"
ALL = set(ROLES)
# rule -> who may pass it (the camera used is in group "tunnel": operators are granted it,
# investigators reach it by default as the group shared with police).
ALLOWED = {
    "public": ALL | {ANON},
    "signed-in": ALL,
    "camera.view": ALL,
    "camera:camera.view": ALL,
    "camera:live": ALL,
    "camera:playback": {"admin", "operator", "investigator"},
    "camera:export": {"admin", "investigator"},
    "export": {"admin", "investigator"},
    "camera.manage": {"admin", "technician"},
    "camera:camera.manage": {"admin", "technician"},
    "metrics.read": {"admin", "technician"},
    "user.manage": {"admin"},
    "audit.read": {"admin"},
    "event.view": ALL,
    "camera:event.view": ALL,
    "camera:event.ack": {"admin", "operator"},
    "event.ack": {"admin", "operator"},
    "account": ALL,
    "account:enrolling": ALL,
    "alarm.rules": {"admin"},
    "playback": {"admin", "operator", "investigator"},
    "evidence.release": {"admin"},
}
# Refusals are immediate; a request still running after this is a stream that was let in.
STREAM_SECONDS = 1.5
PATH_VALUES = {"camera_id": "tun-1", "export_id": "0" * 32, "username": "nobody", "grant_id": "999999",
               "token_id": "nothing", "session_id": "nothing", "event_id": "999999",
               "alarm_id": "999999", "rule_id": "nothing",
               "lock_id": "999999", "bookmark_id": "999999", "case_id": "999999", "case_export_id": "0" * 32,
               "search_id": "0" * 32}


def _fill(path: str) -> str:
    return re.sub(r"\{(\w+)(:[^}]*)?\}", lambda m: PATH_VALUES.get(m.group(1), "x"), path)


def _restore(system) -> None:
    """Undo what an allowed call may have done to the shared camera."""
    try:
        CameraRegistry(system.db).get("tun-1")
    except CameraNotFound:
        system.add_camera("tun-1")
    with system.db.session() as session:
        session.get(CameraRow, "tun-1").enabled = True


async def test_every_route_declares_one_rule_and_enforces_it(tmp_path):
    async with api_system(tmp_path) as system:
        system.add_camera("tun-1")
        routes = [r for r in api_routes(system.app) if r.path not in PUBLIC_PATHS]
        assert len(routes) > 30
        unruled = [f"{route_label(r)} ({r.endpoint.__module__})" for r in routes if len(route_rules(r)) != 1]
        assert not unruled, "routes without exactly one access rule (see docs/security.md): " + "; ".join(unruled)
        wrong = []
        for route in routes:
            rule = route_rules(route)[0].describe()
            assert rule in ALLOWED, f"{route_label(route)}: rule {rule} has no expectation in this test"
            path = _fill(route.path)
            for method in sorted(route.methods):
                if method == "HEAD":
                    continue
                for caller in [ANON, *ROLES]:
                    headers = system.token(caller) if caller != ANON else {}
                    kwargs = {"json": {}} if method in ("POST", "PATCH", "PUT") else {}
                    try:
                        response = await asyncio.wait_for(
                            system.client.request(method, path, headers=headers, **kwargs), STREAM_SECONDS
                        )
                    except asyncio.TimeoutError:  # an endless stream (server-sent events) that was let in
                        wrong += [] if caller in ALLOWED[rule] else [f"{caller} {method} {path} [{rule}] -> streaming"]
                        _restore(system)
                        continue
                    status = response.status_code
                    if caller in ALLOWED[rule]:
                        ok = status not in (401, 403)
                    elif caller == ANON:
                        ok = status == 401
                    else:
                        ok = status == 403
                    if not ok:
                        wrong.append(f"{caller} {method} {path} [{rule}] -> {status}")
                    if status >= 400 and response.headers.get("content-type") != "application/problem+json":
                        wrong.append(f"{caller} {method} {path} -> {status} is not problem+json")
                    _restore(system)
        assert not wrong, "\n".join(wrong)


async def test_static_and_docs_are_the_only_public_non_api_paths(tmp_path):
    async with api_system(tmp_path, roles=False) as system:
        for path in PUBLIC_PATHS | {"/docs"}:
            assert (await system.client.get(path)).status_code == 200
        assert PUBLIC_MOUNTS == {"/static"}


async def test_cameras_outside_your_groups_do_not_exist_for_you(tmp_path):
    async with api_system(tmp_path) as system:
        system.add_camera("tun-1", "tunnel")
        system.add_camera("rent-1", "rented")
        investigator, operator = system.token("investigator"), system.token("operator")
        listed = (await system.client.get("/api/cameras", headers=investigator)).json()
        assert [c["id"] for c in listed] == ["tun-1"]
        for path in ("/api/cameras/rent-1", "/api/cameras/rent-1/timeline?day=2026-01-01",
                     "/api/cameras/ghost/timeline?day=2026-01-01"):
            response = await system.client.get(path, headers=investigator)
            assert response.status_code == 404, path
            assert response.json()["type"] == "/problems/camera-not-found"
        assert (await system.client.get("/api/cameras/rent-1", headers=operator)).status_code == 404
        # A grant opens the group to one user.
        from vms.auth.users import Users

        Users(system.db, system.security).add_grant("rented", ["playback"], username="investigator")
        assert (await system.client.get("/api/cameras/rent-1", headers=system.token("investigator"))).status_code == 200
        # Admins and technicians see every group.
        for role in ("admin", "technician"):
            listed = (await system.client.get("/api/cameras", headers=system.token(role))).json()
            assert {c["id"] for c in listed} == {"tun-1", "rent-1"}


async def test_export_needs_export_on_the_cameras_group(tmp_path):
    async with api_system(tmp_path) as system:
        system.add_camera("rent-1", "rented")
        body = {"camera_id": "rent-1", "start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:01:00Z"}
        response = await system.client.post("/api/exports", json=body, headers=system.token("investigator"))
        assert response.status_code == 404
        from vms.auth.users import Users

        Users(system.db, system.security).add_grant("rented", ["live"], username="investigator")
        response = await system.client.post("/api/exports", json=body, headers=system.token("investigator"))
        assert response.status_code == 403  # sees the camera now, but was given live only


@pytest.mark.parametrize("camera_id", ["..%2F..%2Fetc", "..", "%2e%2e", "UPPER", "a" * 65, "tun-1%00", "tun-1%2F..%2F.."])
async def test_odd_camera_ids_are_just_unknown_cameras(tmp_path, camera_id):
    async with api_system(tmp_path) as system:
        system.add_camera("tun-1")
        for suffix in ("", "/timeline?day=2026-01-01", "/playback.mp4?start=2026-01-01T00:00:00Z&end=2026-01-01T00:01:00Z"):
            response = await system.client.get(f"/api/cameras/{camera_id}{suffix}", headers=system.token("admin"))
            assert response.status_code == 404, (camera_id, suffix, response.text)
            assert response.headers["content-type"] == "application/problem+json"


async def test_a_scoped_token_does_only_what_its_scope_says(tmp_path):
    async with api_system(tmp_path) as system:
        metrics_only = system.token("admin", scopes=["metrics.read"])
        assert (await system.client.get("/metrics", headers=metrics_only)).status_code == 200
        assert (await system.client.get("/api/users", headers=metrics_only)).status_code == 403
        assert (await system.client.get("/api/cameras", headers=metrics_only)).status_code == 403
        assert (await system.client.get("/metrics")).status_code == 401


async def test_every_answer_forbids_sniffing_and_framing(tmp_path):
    async with api_system(tmp_path, roles=False) as system:
        for path in ("/healthz", "/api/cameras", "/api/nothing"):
            response = await system.client.get(path)
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["x-frame-options"] == "DENY"


async def test_a_too_long_export_says_its_limit_as_parameters(tmp_path):
    """The limit comes as a reason code and a number the UI words in its language (issue 14)."""
    async with api_system(tmp_path) as system:
        system.add_camera("tun-1")
        body = {"camera_id": "tun-1", "start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}
        response = await system.client.post("/api/exports", json=body, headers=system.token("admin"))
        assert response.status_code == 400, response.text
        problem = response.json()
        assert problem["type"] == "/problems/range-too-long"
        assert problem["params"] == {"reason": "hours", "max": system.security.max_range_hours}
