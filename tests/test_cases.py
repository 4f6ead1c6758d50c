"""Cases: clips of several cameras, a bookmark and a note, exported as one signed package with an
offline player; chain of custody; `vms verify` on the downloaded zip."""

from __future__ import annotations

import asyncio
import json
import time
import zipfile
from datetime import datetime, timedelta, timezone

from typer.testing import CliRunner

from tests.support.api import api_system
from vms.evidence.cases import VIEW_QUIET_SECONDS, create_case, custody, view_case
from tests.support.recordings import record
from vmsapp.cli import app as cli

T0 = float(int(time.time()) - 600)


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, timezone.utc)


async def _finished(system, url: str, headers: dict) -> dict:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        status = (await system.client.get(url, headers=headers)).json()
        if status["state"] in ("done", "failed"):
            return status
        await asyncio.sleep(0.05)
    raise AssertionError("case export did not finish")


async def test_case_package_holds_every_clip_signed_with_player_and_custody(tmp_path):
    async with api_system(tmp_path) as system:
        recordings = system.runtime.settings.recordings_dir
        for camera_id in ("tun-1", "tun-2"):
            system.add_camera(camera_id)
            record(system.db, recordings, camera_id, T0, seconds=8, segment_seconds=4)
        investigator, client = system.token("investigator"), system.client
        made = await client.post("/api/cases", headers=investigator,
                                 json={"number": "CA-2026/0417", "title": "Xe dừng trong hầm Thủ Thiêm"})
        assert made.status_code == 201, made.text
        case_id = made.json()["id"]
        assert (await client.post("/api/cases", headers=investigator,
                                  json={"number": "CA-2026/0417", "title": "again"})).status_code == 409
        assert (await client.post(f"/api/cases/{case_id}/exports", headers=investigator)).status_code == 409
        for camera_id, start, end in (("tun-1", 1, 4.5), ("tun-2", 3, 7)):
            added = await client.post(f"/api/cases/{case_id}/clips", headers=investigator, json={
                "camera_id": camera_id, "start": at(start).isoformat(), "end": at(end).isoformat(), "note": camera_id})
            assert added.status_code == 201, added.text
        bookmark = (await client.post("/api/bookmarks", headers=investigator, json={
            "camera_id": "tun-1", "start": at(2).isoformat(), "title": "xe dừng"})).json()
        assert (await client.post(f"/api/cases/{case_id}/bookmarks", headers=investigator,
                                  json={"bookmark_id": bookmark["id"]})).status_code == 201
        assert (await client.post(f"/api/cases/{case_id}/notes", headers=investigator,
                                  json={"text": "vehicle leaves by the gateway"})).status_code == 201
        detail = (await client.get(f"/api/cases/{case_id}", headers=investigator)).json()
        assert [i["kind"] for i in detail["items"]] == ["clip", "clip", "bookmark", "note"]
        # Operators and technicians have no cases.
        assert (await client.get(f"/api/cases/{case_id}", headers=system.token("operator"))).status_code == 403

        accepted = await client.post(f"/api/cases/{case_id}/exports", headers=investigator)
        assert accepted.status_code == 202, accepted.text
        status = await _finished(system, f"/api/cases/{case_id}/exports/{accepted.json()['id']}", investigator)
        assert status["state"] == "done", status
        package = await client.get(status["package_url"], headers=investigator)
        assert package.status_code == 200 and package.headers["content-type"] == "application/zip"
        custody = (await client.get(f"/api/cases/{case_id}/custody", headers=investigator)).json()
        key_pem = (await client.get("/api/evidence/public-key")).json()["public_key_pem"]

    actions = [(e["username"], e["action"]) for e in custody]
    assert actions == [("investigator", a) for a in (
        "case.create", "case.add_clip", "case.add_clip", "case.add_bookmark", "case.add_note",
        # The GET right after the note continues the same access: no view row of its own.
        "case.export_request", "case.export", "case.download")]
    archive = tmp_path / "case.zip"
    archive.write_bytes(package.content)
    with zipfile.ZipFile(archive) as opened:
        names = sorted(n.split("/", 1)[1] for n in opened.namelist())
        manifest = json.loads(next(opened.read(n) for n in opened.namelist() if n.endswith("/manifest.json")))
    clips = [c["file"] for c in manifest["clips"]]
    assert len(clips) == 2 and names == sorted([*clips, "case.js", "manifest.json", "manifest.sig", "player.css",
                                                "player.html", "player.js"])
    assert manifest["case"]["number"] == "CA-2026/0417" and manifest["bookmarks"][0]["title"] == "xe dừng"
    assert manifest["notes"][0]["text"] == "vehicle leaves by the gateway"
    assert [c["camera"]["id"] for c in manifest["clips"]] == ["tun-1", "tun-2"]
    for clip, start in zip(manifest["clips"], (1, 3)):
        first = datetime.fromisoformat(clip["contained"]["first_frame"])
        assert first <= at(start) and (at(start) - first).total_seconds() <= 1.0
    assert "case.create" in [e["action"] for e in manifest["custody"]]

    key_file = tmp_path / "key.pem"
    key_file.write_text(key_pem)
    runner = CliRunner()
    good = runner.invoke(cli, ["verify", str(archive), "--public-key", str(key_file)])
    assert good.exit_code == 0 and "VERIFIED" in good.output, good.output

    # One byte of the second clip flipped inside the zip: verification names that clip.
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(tampered, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith(clips[1]):
                data = data[:1000] + bytes([data[1000] ^ 0x80]) + data[1001:]
            target.writestr(info, data)
    bad = runner.invoke(cli, ["verify", str(tampered), "--public-key", str(key_file)])
    assert bad.exit_code == 1 and f"FAIL {clips[1]}: SHA-256 differs" in bad.output, bad.output
    assert f"ok   {clips[0]}" in bad.output


class _User:
    def __init__(self, username: str) -> None:
        self.username, self.role = username, "investigator"


def test_case_views_recorded_once_per_distinct_access(db):
    """Refreshes and the reload after one's own change are one access; another user's access in
    between, another address, or a view after the quiet window are distinct and recorded."""
    an, binh = _User("an"), _User("binh")
    case_id = create_case(db, an, "CA-1", "hầm", client_ip="10.0.0.1").id
    now = datetime.now(timezone.utc)
    for _ in range(3):  # the screen reloading after creating, then two refreshes
        view_case(db, an, case_id, "10.0.0.1", now=now)
    view_case(db, an, case_id, "10.0.0.2", now=now)  # another workstation
    view_case(db, binh, case_id, "10.0.0.3", now=now)
    view_case(db, an, case_id, "10.0.0.2", now=now)  # after binh's access
    later = now + timedelta(seconds=VIEW_QUIET_SECONDS + 1)
    view_case(db, an, case_id, "10.0.0.2", now=later)
    assert [(e.username, e.action, e.client_ip) for e in custody(db, case_id)] == [
        ("an", "case.create", "10.0.0.1"), ("an", "case.view", "10.0.0.2"), ("binh", "case.view", "10.0.0.3"),
        ("an", "case.view", "10.0.0.2"), ("an", "case.view", "10.0.0.2")]
