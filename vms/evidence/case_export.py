"""Export a case as one package: every clip (remuxed, never re-encoded), one signed manifest for
all of them, and an offline player page that plays the clips with their wall-clock timecode.

Layout of the package folder (delivered as a zip of the same files, made while it downloads)::

    manifest.json    case, clips (requested range, first/last frame, media start, gaps), bookmarks,
                     notes, chain of custody up to the export, every file's SHA-256
    manifest.sig     Ed25519 signature of the manifest (``vms.evidence.package``)
    clips/NN_<camera>_<start>_<end>.mp4
    player.html, player.js, case.js   open player.html in any browser, no network needed
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import update

from vms.auth.audit import audit
from vms.db import CameraRow, Database
from vms.db.evidence import CaseExportRow, CaseItemRow
from vms.db.types import utcnow
from vms.evidence.cases import Case, case_target, custody, load_case
from vms.evidence.keys import SigningKey
from vms.evidence.package import MANIFEST_NAME, file_entries, sign_package, write_manifest
from vms.recordings.export_failure import INTERRUPTED, NoClipRecorded, failure_of
from vms.recordings.locate import SegmentFiles
from vms.recordings.manifest import clip_contents
from vms.recordings.playback import NothingRecorded, plan_range, write_mp4
from vms.recordings.retention import lock_range

log = logging.getLogger(__name__)

FORMAT = "vms-case-package/1"
PLAYER_DIR = Path(__file__).parent / "player"
PLAYER_FILES = ("player.html", "player.js", "player.css")
DATA_FILE = "case.js"
ID_LENGTH = 32
PROGRESS_SECONDS = 0.5


class CaseExportNotFound(LookupError):
    pass


def _iso(moment: datetime | None) -> str:
    """A frame's time; write_mp4 refuses a clip without any frame, so there always is one."""
    if moment is None:
        raise ValueError("the clip holds no frame")
    return moment.isoformat()


def _stamp(moment: datetime) -> str:
    return f"{moment:%Y%m%dT%H%M%S}Z"


def request_case_export(db: Database, root: Path, case_id: int, username: str, client_ip: str = "") -> CaseExportRow:
    load_case(db, case_id)  # CaseNotFound
    export_id = secrets.token_hex(ID_LENGTH // 2)
    row = CaseExportRow(id=export_id, case_id=case_id, requested_by=username[:64], client_ip=client_ip[:64],
                        folder=str((root / export_id).resolve()))
    with db.session() as session:
        session.add(row)
    return row


def get_case_export(db: Database, case_id: int, export_id: str) -> CaseExportRow:
    with db.session() as session:
        row = session.get(CaseExportRow, export_id) if len(export_id) == ID_LENGTH else None
    if row is None or row.case_id != case_id:
        raise CaseExportNotFound(f"case export '{export_id}' does not exist")
    return row


def _set(db: Database, export_id: str, **values: object) -> None:
    with db.session() as session:
        session.execute(update(CaseExportRow).where(CaseExportRow.id == export_id).values(**values))


def run_case_export(db: Database, files: SegmentFiles, export_id: str, key: SigningKey, role: str = "",
                    progress: Callable[[float], None] | None = None) -> CaseExportRow:
    """Build the package; the row ends ``done`` or ``failed`` (with a reason). Clips without any
    recording are listed in the manifest with the reason, never silently left out."""
    with db.session() as session:
        found = session.get(CaseExportRow, export_id)
    if found is None:
        raise CaseExportNotFound(f"case export '{export_id}' does not exist")
    row = found
    actor = _Actor(row.requested_by, role)
    folder = Path(row.folder)
    _set(db, export_id, state="running")
    try:
        case = load_case(db, row.case_id)
        (folder / "clips").mkdir(parents=True, exist_ok=True)
        clips = case.clips
        described = []
        reported = [0.0]
        for number, item in enumerate(clips):
            def report(fraction: float, number: int = number) -> None:
                overall = (number + fraction) / max(len(clips), 1)
                if time.monotonic() - reported[0] >= PROGRESS_SECONDS:  # a database write per update
                    reported[0] = time.monotonic()
                    _set(db, export_id, percent=round(overall * 98, 1))
                if progress is not None:
                    progress(overall)
            described.append(_clip(db, files, case, item, number + 1, folder, export_id, row.requested_by, report))
        if not any("file" in clip for clip in described):
            raise NoClipRecorded("no clip of the case has any recording")
        exported_at = utcnow()
        manifest = _manifest(db, case, row, role, described, exported_at)
        _write_player(folder, case, described)
        names = [clip["file"] for clip in described if "file" in clip] + [*PLAYER_FILES, DATA_FILE]
        manifest["files"] = file_entries(folder, names)
        write_manifest(folder, manifest)
        sign_package(folder, key)
        _set(db, export_id, state="done", percent=100.0, finished_at=exported_at)
        audit(db, actor, "case.export", case_target(case.row.id),
              {"number": case.row.number, "package": export_id, "clips": len(described),
               "manifest_sha256": file_entries(folder, [MANIFEST_NAME])[0]["sha256"]}, row.client_ip)
    except Exception as exc:
        failure = failure_of(exc, "case export failed unexpectedly")
        log.exception("case export %s failed", export_id)
        _set(db, export_id, state="failed", finished_at=utcnow(), **failure.columns())
        audit(db, actor, "case.export_failed", case_target(row.case_id),
              {"package": export_id, "error": failure.message, "error_code": failure.code}, row.client_ip)
    return get_case_export(db, row.case_id, export_id)


def _clip(db: Database, files: SegmentFiles, case: Case, item: CaseItemRow, number: int, folder: Path, export_id: str,
          username: str, report: Callable[[float], None]) -> dict[str, Any]:
    camera_id, start, end = item.camera_id, item.start, item.end
    if camera_id is None or start is None or end is None:
        raise ValueError(f"case item {item.id} is not a clip")
    with db.session() as session:
        camera = session.get(CameraRow, camera_id)
        camera_info = {"id": camera_id, "name": camera.name if camera else None,
                       "group": camera.group_id if camera else None}
    described = {"item": item.id, "camera": camera_info, "note": item.text,
                 "requested": {"start": start.isoformat(), "end": end.isoformat()}}
    try:
        plan = plan_range(db, files, camera_id, start, end)
    except NothingRecorded as exc:
        return {**described, "missing": str(exc)}
    lock_start = min(plan.first_keyframe, start)
    lock_id = lock_range(db, camera_id, lock_start, end,
                         f"case {case.row.number} package {export_id}", username)
    name = f"clips/{number:02d}_{camera_id}_{_stamp(start)}_{_stamp(end)}.mp4"
    partial = folder / f"{name}.partial"
    result = write_mp4(plan, files, partial, report)
    partial.replace(folder / name)
    return {
        **described,
        "file": name,
        **clip_contents(plan, result, start),
        "segments": result.segments,
        "evidence_lock": {"id": lock_id, "start": lock_start.isoformat(), "end": end.isoformat()},
    }


def _manifest(db: Database, case: Case, row: CaseExportRow, role: str, clips: list[dict[str, Any]],
              exported_at: datetime) -> dict[str, Any]:
    from vms.recordings.export import tool_versions

    bookmarks = [case.bookmarks[i.bookmark_id] for i in case.items if i.bookmark_id in case.bookmarks]
    return {
        "format": FORMAT,
        "package_id": row.id,
        "case": {"id": case.row.id, "number": case.row.number, "title": case.row.title,
                 "description": case.row.description, "created_by": case.row.created_by,
                 "created_at": case.row.created_at.isoformat()},
        "exported_at": exported_at.isoformat(),
        "exported_by": {"username": row.requested_by, "role": role, "client_ip": row.client_ip},
        "clips": clips,
        "bookmarks": [{"id": b.id, "camera": b.camera_id, "start": b.start.isoformat(),
                       "end": b.end.isoformat() if b.end else None, "title": b.title, "note": b.note,
                       "created_by": b.created_by} for b in bookmarks],
        "notes": [{"text": i.text, "by": i.added_by, "at": i.added_at.isoformat()} for i in case.items if i.kind == "note"],
        "custody": [{"at": e.at.isoformat(), "username": e.username, "role": e.role, "action": e.action,
                     "client_ip": e.client_ip} for e in custody(db, case.row.id)],
        "method": "remux (no re-encoding): the cameras' compressed pictures copied unchanged",
        "tool": tool_versions(),
    }


def _write_player(folder: Path, case: Case, clips: list[dict[str, Any]]) -> None:
    for name in PLAYER_FILES:
        (folder / name).write_bytes((PLAYER_DIR / name).read_bytes())
    data = {"case": {"number": case.row.number, "title": case.row.title},
            "clips": [{"file": c["file"], "camera": c["camera"], "note": c["note"],
                       "media_start": c["contained"]["media_start"], "first_frame": c["contained"]["first_frame"],
                       "last_frame": c["contained"]["last_frame"]} for c in clips if "file" in c]}
    # A script, not JSON fetched at run time: browsers refuse fetch() from file:// pages.
    (folder / DATA_FILE).write_text("window.VMS_CASE = " + json.dumps(data, ensure_ascii=False) + ";\n", encoding="utf-8")


class _Actor:
    def __init__(self, username: str, role: str) -> None:
        self.username, self.role = username, role


def fail_interrupted(db: Database) -> None:
    """Case exports this installation was building when it stopped cannot finish; say so."""
    from datetime import timedelta

    with db.session() as session:
        session.execute(
            update(CaseExportRow)
            .where(CaseExportRow.state.in_(("queued", "running")), CaseExportRow.created_at < utcnow() - timedelta(seconds=1))
            .values(state="failed", **INTERRUPTED.columns())
        )
