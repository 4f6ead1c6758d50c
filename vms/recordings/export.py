"""Evidence export: one MP4 of a time range, a signed manifest with its SHA-256, the range locked.

The recording is remuxed, never re-encoded, so the pictures are the camera's own bytes. The
range is locked against retention before copying starts, so nothing it needs can be
deleted underneath it, and stays locked afterwards. Each step is written to the audit log.
"""

from __future__ import annotations

import logging
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

import av
from sqlalchemy import select, update

import vms
from vms.auth.audit import audit
from vms.db import CameraRow, Database
from vms.db.exports import ExportRow
from vms.db.types import utcnow
from vms.evidence.keys import SigningKey
from vms.evidence.package import MANIFEST_NAME, file_entries, sign_package, write_manifest  # noqa: F401  (MANIFEST_NAME: re-exported)
from vms.recordings.export_failure import INTERRUPTED, failure_of
from vms.recordings.locate import SegmentFiles
from vms.recordings.manifest import build_manifest
from vms.recordings.playback import NothingRecorded, plan_range, write_mp4
from vms.recordings.retention import lock_range

log = logging.getLogger(__name__)

EXPORT_ID_LENGTH = 32


class ExportNotFound(LookupError):
    pass


def is_export_id(value: str) -> bool:
    """Whether ``value`` has the shape of an export id (lowercase hex of ``EXPORT_ID_LENGTH``)."""
    return len(value) == EXPORT_ID_LENGTH and all(c in "0123456789abcdef" for c in value)


def _stamp(moment: datetime) -> str:
    return f"{moment:%Y%m%dT%H%M%S}Z"


def tool_versions() -> dict[str, Any]:
    """vms, PyAV and libavformat versions, as written into every export manifest."""
    return {"name": "vms", "version": vms.__version__, "pyav": av.__version__,
            "ffmpeg": ".".join(map(str, av.library_versions.get("libavformat", ())))}


def request_export(
    db: Database, exports_root: Path, camera_id: str, start: datetime, end: datetime,
    username: str, client_ip: str = "", reason: str = "", folder: Path | None = None,
) -> ExportRow:
    """Record a queued export. Its files go to ``folder`` (default ``exports_root/<id>``)."""
    if end <= start:
        raise ValueError("the range must end after it starts")
    export_id = secrets.token_hex(EXPORT_ID_LENGTH // 2)
    row = ExportRow(
        id=export_id, camera_id=camera_id, start=start, end=end, requested_by=username[:64],
        client_ip=client_ip[:64], reason=reason, state="queued", percent=0.0,
        folder=str((folder or exports_root / export_id).resolve()),
    )
    with db.session() as session:
        session.add(row)
    return row


def get_export(db: Database, export_id: str) -> ExportRow:
    """The export ``export_id``; raises ``ExportNotFound`` (also for a malformed id)."""
    with db.session() as session:
        row = session.get(ExportRow, export_id) if is_export_id(export_id) else None
        if row is None:
            raise ExportNotFound(f"export '{export_id}' does not exist")
        return row


def list_exports(db: Database, username: str | None = None, limit: int = 100) -> list[ExportRow]:
    """Exports newest first, at most ``limit``; only ``username``'s when given."""
    query = select(ExportRow).order_by(ExportRow.created_at.desc()).limit(limit)
    if username is not None:
        query = query.where(ExportRow.requested_by == username)
    with db.session() as session:
        return list(session.scalars(query))


def _set(db: Database, export_id: str, **values: Any) -> None:
    with db.session() as session:
        session.execute(update(ExportRow).where(ExportRow.id == export_id).values(**values))


def run_export(
    db: Database, files: SegmentFiles, export_id: str, key: SigningKey,
    progress: Callable[[float], None] | None = None, role: str = "",
) -> ExportRow:
    """Build the export's MP4 and manifest, signed with ``key``; the row ends ``done`` or ``failed``
    (with a reason).

    ``files`` finds each segment's file, whichever worker recorded it (shared storage)."""
    row = get_export(db, export_id)
    folder = Path(row.folder)
    partial = folder / f".{export_id}.partial.mp4"
    _set(db, export_id, state="running", percent=0.0)
    actor = _Actor(row.requested_by, role)
    try:
        with db.session() as session:
            camera = session.get(CameraRow, row.camera_id)
            camera_info = {"id": row.camera_id, "name": camera.name if camera else None,
                           "group": camera.group_id if camera else None}
        plan = plan_range(db, files, row.camera_id, row.start, row.end)
        lock_start = min(plan.first_keyframe, row.start)
        lock_id = lock_range(db, row.camera_id, lock_start, row.end, f"evidence export {export_id}", row.requested_by)
        _set(db, export_id, lock_id=lock_id)
        folder.mkdir(parents=True, exist_ok=True)

        def report(fraction: float) -> None:
            _set(db, export_id, percent=round(fraction * 99, 1))  # the last percent is hashing
            if progress is not None:
                progress(fraction)

        result = write_mp4(plan, files, partial, report)
        name = f"{row.camera_id}_{_stamp(row.start)}_{_stamp(row.end)}.mp4"
        final = folder / name
        partial.replace(final)
        (entry,) = file_entries(folder, [name])
        sha256, size = entry["sha256"], entry["bytes"]
        exported_at = utcnow()
        manifest = build_manifest(
            export_id=export_id, camera=camera_info, start=row.start, end=row.end, plan=plan, result=result,
            exported_at=exported_at,
            exported_by={"username": row.requested_by, "role": role, "client_ip": row.client_ip},
            reason=row.reason, file={"name": name, "bytes": size, "sha256": sha256},
            evidence_lock={"id": lock_id, "start": lock_start.isoformat(), "end": row.end.isoformat()},
            tool=tool_versions(),
        ).to_dict()
        manifest["files"] = [entry]  # every file of the package with its hash: what `vms verify` checks
        write_manifest(folder, manifest)
        sign_package(folder, key)
        _set(db, export_id, state="done", percent=100.0, file_name=name, bytes=size, sha256=sha256,
             first_frame=result.first_frame, last_frame=result.last_frame, finished_at=exported_at)
        audit(db, actor, "export.done", row.camera_id,
              {"export": export_id, "sha256": sha256, "bytes": size, "start": row.start, "end": row.end}, row.client_ip)
    except Exception as exc:
        failure = failure_of(exc)
        if not isinstance(exc, NothingRecorded):
            log.exception("export %s failed", export_id)
        partial.unlink(missing_ok=True)
        _set(db, export_id, state="failed", finished_at=utcnow(), **failure.columns())
        audit(db, actor, "export.failed", row.camera_id,
              {"export": export_id, "error": failure.message, "error_code": failure.code}, row.client_ip)
    return get_export(db, export_id)


class _Actor:
    def __init__(self, username: str, role: str) -> None:
        self.username, self.role = username, role


class ExportQueue:
    """Runs exports in background threads, a few at a time."""

    def __init__(self, db: Database, files: SegmentFiles, key: SigningKey, workers: int = 2) -> None:
        self.db = db
        self.files = files
        self.key = key
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="export")
        # Exports this process was running when it stopped cannot finish; say so.
        with db.session() as session:
            session.execute(
                update(ExportRow)
                .where(ExportRow.state.in_(("queued", "running")), ExportRow.created_at < utcnow() - timedelta(seconds=1))
                .values(state="failed", **INTERRUPTED.columns())
            )

    def submit(self, export_id: str, role: str = "") -> None:
        self._pool.submit(run_export, self.db, self.files, export_id, self.key, None, role)

    def run(self, task: Callable[..., object], *args: object) -> None:
        """Run another evidence job (a case package) on the same few threads."""
        self._pool.submit(task, *args)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)
