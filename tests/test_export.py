"""Evidence export through the API and the CLI: hashed, described, locked against retention, audited."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import time
from datetime import datetime, timedelta, timezone

import av
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.support.api import api_system
from tests.support.recordings import record
from vmsapp.cli import app as cli
from vms.db import EvidenceLock, Segment
from vms.db.auth import AuditEntry
from vms.recordings.retention import Retention

T0 = float(int(time.time()) - 600)


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, timezone.utc)


@pytest.fixture
async def recorded(tmp_path):
    async with api_system(tmp_path) as system:
        system.add_camera("tun-1")
        record(system.db, system.runtime.settings.recordings_dir, "tun-1", T0, seconds=12, segment_seconds=3)
        yield system


async def _finished(system, export_id: str, headers: dict, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = (await system.client.get(f"/api/exports/{export_id}", headers=headers)).json()
        if status["state"] in ("done", "failed") or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.05)


def _actions(db) -> list[str]:
    with db.session() as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


async def test_export_is_hashed_described_locked_and_audited(recorded):
    system = recorded
    investigator = system.token("investigator")
    body = {"camera_id": "tun-1", "start": at(1.3).isoformat(), "end": at(7.2).isoformat(), "reason": "case 2026/17"}
    accepted = await system.client.post("/api/exports", json=body, headers=investigator)
    assert accepted.status_code == 202, accepted.text
    export_id = accepted.json()["id"]
    status = await _finished(system, export_id, investigator)
    assert status["state"] == "done" and status["percent"] == 100, status
    mp4 = await system.client.get(status["file_url"], headers=investigator)
    assert mp4.status_code == 200 and mp4.headers["content-type"] == "video/mp4"
    manifest = (await system.client.get(status["manifest_url"], headers=investigator)).json()
    digest = hashlib.sha256(mp4.content).hexdigest()
    assert manifest["file"]["sha256"] == digest == status["sha256"] and manifest["file"]["bytes"] == len(mp4.content)
    assert manifest["camera"] == {"id": "tun-1", "name": "Camera tun-1", "group": "tunnel"}
    assert manifest["requested"] == {"start": at(1.3).isoformat(), "end": at(7.2).isoformat()}
    first, last = datetime.fromisoformat(manifest["contained"]["first_frame"]), datetime.fromisoformat(manifest["contained"]["last_frame"])
    assert first <= at(1.3) and (at(1.3) - first).total_seconds() <= 1.0 and abs((last - at(7.2)).total_seconds()) <= 0.5
    assert manifest["exported_by"]["username"] == "investigator" and manifest["reason"] == "case 2026/17"
    assert [s["path"] for s in manifest["segments"]] == [s for s in _paths(system)[:3]]
    assert manifest["tool"]["name"] == "vms" and manifest["tool"]["pyav"]
    with av.open(io.BytesIO(mp4.content)) as container:
        assert sum(1 for _ in container.decode(video=0)) == manifest["contained"]["frames"]
    # Byte ranges for players that seek.
    part = await system.client.get(status["file_url"], headers={**investigator, "Range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == mp4.content[:100]
    # The range is locked: retention far in the future keeps exactly the segments it needs.
    with system.db.session() as session:
        (lock,) = session.scalars(select(EvidenceLock))
    assert lock.camera_id == "tun-1" and lock.start <= at(1.3) and lock.end == at(7.2)
    report = Retention(system.db, system.runtime.settings.recordings_dir, system.runtime.settings.storage).run_once(
        now=at(0) + timedelta(days=365)
    )
    assert len(report.deleted) == 1 and _paths(system) == [s["path"] for s in manifest["segments"]]
    actions = _actions(system.db)
    assert ["export.request", "export.done", "export.download"] == [a for a in actions if a.startswith("export.")]


def _paths(system) -> list[str]:
    with system.db.session() as session:
        return list(session.scalars(select(Segment.path).order_by(Segment.start)))


async def test_exports_belong_to_who_asked_and_odd_ids_are_unknown(recorded):
    system = recorded
    system.add_user("investigator2", "investigator")
    mine = system.token("investigator")
    body = {"camera_id": "tun-1", "start": at(2).isoformat(), "end": at(4).isoformat()}
    export_id = (await system.client.post("/api/exports", json=body, headers=mine)).json()["id"]
    await _finished(system, export_id, mine)
    other = system.token("investigator2")
    assert (await system.client.get(f"/api/exports/{export_id}", headers=other)).status_code == 404
    assert (await system.client.get(f"/api/exports/{export_id}/file", headers=other)).status_code == 404
    assert (await system.client.get("/api/exports", headers=other)).json() == []
    assert (await system.client.get(f"/api/exports/{export_id}", headers=system.token("admin"))).status_code == 200
    for odd in ("..%2F..%2Fetc%2Fpasswd", "%2e%2e", "0" * 32, export_id.upper(), export_id + "0", "..", "manifest.json"):
        for suffix in ("", "/file", "/manifest"):
            response = await system.client.get(f"/api/exports/{odd}{suffix}", headers=mine)
            assert response.status_code in (404, 405), (odd, suffix, response.status_code)
            assert b"root:" not in response.content
    # Nothing recorded in the range: the export fails, saying so.
    empty = {"camera_id": "tun-1", "start": at(100).isoformat(), "end": at(110).isoformat()}
    failed = await _finished(system, (await system.client.post("/api/exports", json=empty, headers=mine)).json()["id"], mine)
    assert failed["state"] == "failed" and "no recording" in failed["error"]


async def test_cli_export_makes_the_same_evidence(recorded, tmp_path, monkeypatch):
    system = recorded
    monkeypatch.setenv("VMS_DATA_DIR", str(tmp_path))
    out = tmp_path / "evidence"
    runner = CliRunner()
    args = ["export", "tun-1", "--start", at(3.5).isoformat(), "--end", at(9).isoformat(), "--out", str(out)]
    refused = runner.invoke(cli, [*args, "--user", "technician"])
    assert refused.exit_code == 2 and "may not export" in refused.output
    result = runner.invoke(cli, [*args, "--user", "investigator", "--reason", "CLI case"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    mp4 = out / manifest["file"]["name"]
    assert hashlib.sha256(mp4.read_bytes()).hexdigest() == manifest["file"]["sha256"]
    assert manifest["exported_by"]["username"] == "investigator" and manifest["reason"] == "CLI case"
    assert manifest["file"]["sha256"] in result.output
    assert f"lead-in {manifest['lead_in']['seconds']:g} s" in result.output and "0 gap(s)" in result.output
    with system.db.session() as session:
        assert session.scalar(select(EvidenceLock.end)) == at(9)
    assert [a for a in _actions(system.db) if a.startswith("export.")] == ["export.request", "export.done"]
    again = runner.invoke(cli, [*args, "--user", "investigator"])
    assert again.exit_code == 2 and "already holds an export" in again.output
