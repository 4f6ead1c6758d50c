"""Bookmarks and explicit evidence locks through the API: who may do what, audited, kept by retention."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from tests.support.api import api_system
from tests.support.recordings import record
from vms.db import Segment
from vms.db.auth import AuditEntry
from vms.recordings.retention import Retention

T0 = float(int(time.time()) - 600)


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, timezone.utc)


def _segments(system) -> list[datetime]:
    with system.db.session() as session:
        return list(session.scalars(select(Segment.start).order_by(Segment.start)))


def _retention(system):
    settings = system.runtime.settings
    return Retention(system.db, settings.recordings_dir, settings.storage).run_once(now=at(0) + timedelta(days=365))


def _audit(system, prefix: str) -> list[tuple[str, str]]:
    with system.db.session() as session:
        rows = session.execute(select(AuditEntry.username, AuditEntry.action)
                               .where(AuditEntry.action.startswith(prefix)).order_by(AuditEntry.id)).all()
    return [tuple(r) for r in rows]


async def test_bookmark_locks_its_range_and_locks_are_managed_explicitly(tmp_path):
    async with api_system(tmp_path) as system:
        system.add_camera("tun-1")
        system.add_camera("rent-1", "rented")
        record(system.db, system.runtime.settings.recordings_dir, "tun-1", T0, seconds=12, segment_seconds=3)
        investigator, operator, admin = system.token("investigator"), system.token("operator"), system.token("admin")
        client = system.client

        # An operator may bookmark but not lock; an investigator may do both.
        refused = await client.post("/api/bookmarks", headers=operator, json={
            "camera_id": "tun-1", "start": at(4).isoformat(), "title": "x", "lock": True})
        assert refused.status_code == 403, refused.text
        made = await client.post("/api/bookmarks", headers=investigator, json={
            "camera_id": "tun-1", "start": at(3.5).isoformat(), "end": at(5).isoformat(),
            "title": "Xe tải dừng giữa hầm", "note": "biển số 51C-123.45", "lock": True})
        assert made.status_code == 201, made.text
        bookmark = made.json()
        moment = (await client.post("/api/bookmarks", headers=operator, json={
            "camera_id": "tun-1", "start": at(10).isoformat(), "title": "Smoke?"})).json()
        assert moment["end"] is None and moment["lock_id"] is None

        # Search: by words of the note, any case; limited to cameras the caller sees.
        found = (await client.get("/api/bookmarks", params={"q": "51c-123"}, headers=operator)).json()
        assert [b["id"] for b in found] == [bookmark["id"]]
        ranged = (await client.get("/api/bookmarks", params={"start": at(9).isoformat(), "end": at(12).isoformat()},
                                   headers=investigator)).json()
        assert [b["id"] for b in ranged] == [moment["id"]]

        # The bookmark's lock is listed; retention keeps the segment it covers (3..6 s) and deletes the rest.
        locks = (await client.get("/api/evidence/locks", headers=investigator)).json()
        assert [(lock["id"], datetime.fromisoformat(lock["start"]), datetime.fromisoformat(lock["end"]))
                for lock in locks] == [(bookmark["lock_id"], at(3.5), at(5))]
        _retention(system)
        assert [round((s - at(0)).total_seconds()) for s in _segments(system)] == [3]

        # An explicit lock, extended later; narrowing is refused.
        record(system.db, system.runtime.settings.recordings_dir, "tun-1", T0 + 20, seconds=9, segment_seconds=3)
        explicit = (await client.post("/api/evidence/locks", headers=investigator, json={
            "camera_id": "tun-1", "start": at(20).isoformat(), "end": at(22).isoformat(), "reason": "case 2026/17"})).json()
        assert (await client.post(f"/api/evidence/locks/{explicit['id']}/extend", headers=investigator,
                                  json={"end": at(21).isoformat()})).status_code == 400
        wider = await client.post(f"/api/evidence/locks/{explicit['id']}/extend", headers=investigator,
                                  json={"end": at(25).isoformat()})
        assert wider.status_code == 200 and datetime.fromisoformat(wider.json()["end"]) == at(25)
        _retention(system)
        assert [round((s - at(0)).total_seconds()) for s in _segments(system)] == [3, 20, 23]
        # Locks on cameras you cannot export are not yours to touch.
        assert (await client.post("/api/evidence/locks", headers=investigator, json={
            "camera_id": "rent-1", "start": at(0).isoformat(), "end": at(1).isoformat(), "reason": "r"})).status_code == 404

        # Release: admins only, with a reason; then retention may delete the range.
        assert (await client.delete(f"/api/evidence/locks/{explicit['id']}", params={"reason": "case closed"},
                                    headers=investigator)).status_code == 403
        assert (await client.delete(f"/api/evidence/locks/{explicit['id']}", headers=admin)).status_code == 400
        released = await client.delete(f"/api/evidence/locks/{explicit['id']}", params={"reason": "case closed"},
                                       headers=admin)
        assert released.status_code == 200, released.text
        _retention(system)
        assert [round((s - at(0)).total_seconds()) for s in _segments(system)] == [3]

        assert _audit(system, "lock.") == [("investigator", "lock.create"), ("investigator", "lock.create"),
                                           ("investigator", "lock.extend"), ("admin", "lock.release")]
        assert _audit(system, "bookmark.") == [("investigator", "bookmark.create"), ("operator", "bookmark.create")]
        # Someone else's bookmark cannot be deleted; your own can, and its lock stays.
        assert (await client.delete(f"/api/bookmarks/{bookmark['id']}", headers=operator)).status_code == 403
        assert (await client.delete(f"/api/bookmarks/{bookmark['id']}", headers=investigator)).status_code == 200
        assert [lock["id"] for lock in (await client.get("/api/evidence/locks", headers=admin)).json()] == [bookmark["lock_id"]]
