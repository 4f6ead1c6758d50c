"""Signed evidence: the installation key, signed export packages, the public key route, `vms verify`."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import time
from datetime import datetime, timezone

from typer.testing import CliRunner

from tests.support.api import api_system
from tests.support.recordings import record
from vmsapp.cli import app as cli
from vms.evidence.keys import load_or_create, load_public_pem
from vms.evidence.package import MANIFEST_NAME, SIGNATURE_NAME, verify_package

T0 = float(int(time.time()) - 600)


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, timezone.utc)


def test_key_is_made_once_private_and_reused(tmp_path):
    path = tmp_path / "keys" / "evidence.pem"
    first = load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0
    again = load_or_create(path)
    assert again.key_id == first.key_id and len(first.key_id) == 16
    os.chmod(path, 0o644)  # someone loosened it: it is tightened again
    load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temporary left behind


async def _export(system, headers, start, end) -> str:
    accepted = await system.client.post("/api/exports", json={"camera_id": "tun-1", "start": start.isoformat(),
                                                               "end": end.isoformat()}, headers=headers)
    export_id = accepted.json()["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = (await system.client.get(f"/api/exports/{export_id}", headers=headers)).json()
        if status["state"] in ("done", "failed"):
            assert status["state"] == "done", status
            return export_id
        await asyncio.sleep(0.05)
    raise AssertionError("export did not finish")


async def test_export_is_signed_and_verify_says_exactly_what_fails(tmp_path):
    async with api_system(tmp_path) as system:
        system.add_camera("tun-1")
        record(system.db, system.runtime.settings.recordings_dir, "tun-1", T0, seconds=6, segment_seconds=3)
        investigator = system.token("investigator")
        export_id = await _export(system, investigator, at(1), at(5))
        folder = tmp_path / "exports" / export_id
        package = await system.client.get(f"/api/exports/{export_id}/package", headers=investigator)
        assert package.status_code == 200 and package.headers["content-type"] == "application/zip"
        (tmp_path / "export.zip").write_bytes(package.content)
        published = (await system.client.get("/api/evidence/public-key")).json()  # no sign-in needed
        key_file = tmp_path / "installation.pem"
        key_file.write_text(published["public_key_pem"])
        answer_file = tmp_path / "public-key.json"  # the route's answer saved as it came
        answer_file.write_bytes((await system.client.get("/api/evidence/public-key")).content)
        assert published["algorithm"] == "Ed25519" and published["key_id"] == system.app.state.evidence_key.key_id

    runner = CliRunner()
    zipped = runner.invoke(cli, ["verify", str(tmp_path / "export.zip"), "--public-key", str(key_file)])
    assert zipped.exit_code == 0 and "VERIFIED" in zipped.output, zipped.output
    good = runner.invoke(cli, ["verify", str(folder), "--public-key", str(key_file)])
    assert good.exit_code == 0, good.output
    as_saved = runner.invoke(cli, ["verify", str(folder), "--public-key", str(answer_file)])
    assert as_saved.exit_code == 0 and "signed by the trusted key" in as_saved.output, as_saved.output
    assert "VERIFIED" in good.output and "signed by the trusted key" in good.output
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    clip = folder / manifest["file"]["name"]
    assert [f["name"] for f in manifest["files"]] == [clip.name]

    # One byte flipped inside the zip itself (stored, so the clip's bytes are there as they are):
    # the zip's CRC-32 and the manifest's SHA-256 both name the clip; no traceback.
    original = clip.read_bytes()
    archive = bytearray((tmp_path / "export.zip").read_bytes())
    at_clip = bytes(archive).find(original[len(original) // 2:len(original) // 2 + 64])
    assert at_clip > 0
    archive[at_clip] ^= 0x01
    (tmp_path / "damaged.zip").write_bytes(bytes(archive))
    damaged = runner.invoke(cli, ["verify", str(tmp_path / "damaged.zip"), "--public-key", str(key_file)])
    assert damaged.exit_code == 1 and "NOT VERIFIED" in damaged.output, damaged.output
    assert damaged.exception is None or isinstance(damaged.exception, SystemExit), damaged.exception
    said = " ".join(damaged.output.split())  # the console wraps long lines
    assert f"FAIL {clip.name}: the zip's CRC-32" in said and f"FAIL {clip.name}: SHA-256 differs" in said, said
    assert "Traceback" not in said

    # One byte of the clip flipped: the clip is named, the signature still holds.
    flipped = bytearray(original)
    flipped[len(flipped) // 2] ^= 0x01
    clip.write_bytes(bytes(flipped))
    bad = runner.invoke(cli, ["verify", str(folder)])
    assert bad.exit_code == 1 and "NOT VERIFIED" in bad.output
    assert f"FAIL {clip.name}: SHA-256 differs" in bad.output and "ok   signature" in bad.output
    clip.write_bytes(original)

    # The manifest changed (a later first frame claimed): the signature fails, the files still match.
    manifest["contained"]["first_frame"] = at(2).isoformat()
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2))
    changed = runner.invoke(cli, ["verify", str(folder)])
    assert changed.exit_code == 1
    assert "FAIL signature: does not match manifest.json" in changed.output and f"ok   {clip.name}" in changed.output


def test_reformatting_is_harmless_but_another_key_or_missing_pieces_fail(tmp_path):
    from vms.evidence.package import file_entries, sign_package, write_manifest

    folder = tmp_path / "package"
    folder.mkdir()
    (folder / "a.bin").write_bytes(b"evidence")
    write_manifest(folder, {"format": "test", "files": file_entries(folder, ["a.bin"]), "n": 1.5})
    key = load_or_create(tmp_path / "k.pem")
    sign_package(folder, key)
    assert verify_package(folder, key.public).ok
    # Same values, other layout: still valid.
    data = json.loads((folder / MANIFEST_NAME).read_text())
    (folder / MANIFEST_NAME).write_text(json.dumps(data, separators=(",", ":"), sort_keys=False))
    assert verify_package(folder, key.public).ok
    # A key the verifier does not trust.
    other = load_or_create(tmp_path / "other.pem")
    pinned = verify_package(folder, other.public)
    assert not pinned.ok and "not by the trusted key" in pinned.failures[0].message
    # A file removed, an extra file added (reported, not a failure), the signature removed.
    (folder / "extra.txt").write_text("note")
    (folder / "a.bin").unlink()
    result = verify_package(folder)
    assert [(f.subject, f.message) for f in result.failures] == [("a.bin", "is missing")]
    assert any(f.subject == "extra.txt" and f.ok for f in result.findings)
    (folder / SIGNATURE_NAME).unlink()
    assert any(f.subject == "signature" and "not signed" in f.message for f in verify_package(folder).failures)
    assert load_public_pem(key.public_pem.encode()) is not None
