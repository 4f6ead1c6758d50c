"""The audit log: who did what, when and from where; readable by admins, changeable by no one."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from dashboard.security import api_routes
from tests.support.api import api_system
from vms.auth.audit import audit

FORMULA = "=HYPERLINK(\"http://evil\")"


async def test_sign_ins_and_changes_are_recorded_and_filterable(tmp_path):
    async with api_system(tmp_path) as system:
        await system.client.post("/api/auth/login", json={"username": "operator", "password": "wrong"})
        await system.login("operator")
        await system.client.post("/api/auth/login", json={"username": FORMULA, "password": "x"})
        tech, admin = system.token("technician"), system.token("admin")
        camera = {"id": "gate-02", "name": "Gate 2", "group": "gateway", "main_url": "rtsp://10.1.1.6/s"}
        assert (await system.client.post("/api/cameras", json=camera, headers=tech)).status_code == 201
        user = {"username": "duty1", "role": "operator", "password": "Night-Shift-2026"}
        assert (await system.client.post("/api/users", json=user, headers=admin)).status_code == 201
        grant = {"user": "duty1", "group": "gateway", "capabilities": ["live"]}
        assert (await system.client.post("/api/grants", json=grant, headers=admin)).status_code == 201

        entries = (await system.client.get("/api/audit", headers=admin)).json()
        seen = [(e["username"], e["action"], e["target"]) for e in reversed(entries)]
        assert seen == [
            ("operator", "login.failed", ""),
            ("operator", "login.ok", ""),
            (FORMULA, "login.failed", ""),
            ("technician", "camera.add", "gate-02"),
            ("admin", "user.add", "duty1"),
            ("admin", "grant.add", "duty1"),
        ]
        assert all(e["client_ip"] == "10.20.30.40" for e in entries)
        assert entries[-1]["detail"] == {"reason": "wrong password"}
        assert "Night-Shift-2026" not in str(entries)

        cameras = (await system.client.get("/api/audit", params={"action": "camera."}, headers=admin)).json()
        assert [e["action"] for e in cameras] == ["camera.add"]
        mine = (await system.client.get("/api/audit", params={"user": "operator"}, headers=admin)).json()
        assert {e["action"] for e in mine} == {"login.failed", "login.ok"}
        later = (datetime.now(timezone.utc) + timedelta(minutes=1)).isoformat()
        assert (await system.client.get("/api/audit", params={"since": later}, headers=admin)).json() == []

        exported = await system.client.get("/api/audit.csv", headers=admin)
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert len(rows) == 6
        # A formula typed as a username reaches spreadsheets as text, not as a formula.
        assert any(r["username"] == "'" + FORMULA for r in rows)
        assert not any(r["username"].startswith("=") for r in rows)
        assert (await system.client.get("/api/audit", headers=system.token("operator"))).status_code == 403


async def test_nothing_changes_or_removes_an_entry(tmp_path):
    async with api_system(tmp_path) as system:
        audit(system.db, "admin", "user.add", "x", {"password": "hunter2", "nested": {"token": "t"}}, "1.2.3.4")
        audit_routes = [r for r in api_routes(system.app) if r.path.startswith("/api/audit")]
        assert audit_routes and all(r.methods <= {"GET", "HEAD"} for r in audit_routes)
        admin = system.token("admin")
        for method in ("PUT", "PATCH", "DELETE", "POST"):
            assert (await system.client.request(method, "/api/audit", headers=admin)).status_code == 405
        with pytest.raises(DatabaseError, match="append-only"):
            with system.db.session() as session:
                session.execute(text("UPDATE audit_log SET username = 'someone-else'"))
        with pytest.raises(DatabaseError, match="append-only"):
            with system.db.session() as session:
                session.execute(text("DELETE FROM audit_log"))
        (entry,) = (await system.client.get("/api/audit", headers=admin)).json()
        assert entry["username"] == "admin" and entry["detail"] == {"password": "***", "nested": {"token": "***"}}
