"""The camera registry in the database, kept in step with the YAML configuration."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select, text

from vms.cameras.spec import CameraSpec  # noqa: F401  (re-exported: the registry hands these out)
from vms.config.cameras import CameraConfig, GroupConfig
from vms.db import CameraRow, Database, GroupRow, Segment
from vms.db.engine import rows_affected


class CameraNotFound(LookupError):
    pass


class CameraExists(ValueError):
    pass


def _apply(row: CameraRow, camera: CameraConfig) -> None:
    row.name = camera.name
    row.group_id = camera.group
    row.main_url = camera.main_url
    row.sub_url = camera.sub_url
    row.username = camera.credentials.username if camera.credentials else None
    row.password = camera.credentials.password.get_secret_value() if camera.credentials else None
    row.lat = camera.location.lat if camera.location else None
    row.lon = camera.location.lon if camera.location else None
    row.location_description = camera.location.description if camera.location else ""
    row.enabled = camera.enabled
    row.recording_enabled = camera.recording.enabled
    row.segment_seconds = camera.recording.segment_seconds
    row.record_stream = camera.recording.stream
    row.transport = camera.transport
    row.rtsp_client = camera.rtsp_client


class CameraRegistry:
    def __init__(self, db: Database) -> None:
        self.db = db

    def sync_from_config(self, groups: list[GroupConfig], cameras: list[CameraConfig]) -> None:
        """Make the database agree with the YAML: upsert its groups and cameras, drop removed ones.

        Cameras registered through the API or CLI (source "api") are left alone.
        """
        with self.db.session() as session:
            if session.get_bind().dialect.name == "postgresql":
                # Processes of a cluster start together; one syncs at a time (no duplicate inserts).
                session.execute(text("SELECT pg_advisory_xact_lock(7265002)"))
            for group in groups:
                row = session.get(GroupRow, group.id) or GroupRow(id=group.id)
                row.name, row.retention_days = group.name, group.retention_days
                session.add(row)
            session.flush()
            wanted = {camera.id for camera in cameras}
            for camera in cameras:
                camera_row = session.get(CameraRow, camera.id) or CameraRow(id=camera.id, source="config")
                _apply(camera_row, camera)
                session.add(camera_row)
            session.execute(delete(CameraRow).where(CameraRow.source == "config", CameraRow.id.not_in(wanted)))

    def add(self, camera: CameraConfig) -> None:
        with self.db.session() as session:
            if session.get(CameraRow, camera.id) is not None:
                raise CameraExists(f"camera '{camera.id}' already exists")
            if session.get(GroupRow, camera.group) is None:
                known = ", ".join(session.scalars(select(GroupRow.id)))
                raise ValueError(f"group '{camera.group}' does not exist (groups: {known})")
            row = CameraRow(id=camera.id, source="api")
            _apply(row, camera)
            session.add(row)

    def remove(self, camera_id: str) -> None:
        """Forget a camera; its recordings stay until retention removes them."""
        with self.db.session() as session:
            if rows_affected(session.execute(delete(CameraRow).where(CameraRow.id == camera_id))) == 0:
                raise CameraNotFound(f"camera '{camera_id}' does not exist")

    def get(self, camera_id: str) -> CameraRow:
        with self.db.session() as session:
            row = session.get(CameraRow, camera_id)
            if row is None:
                raise CameraNotFound(f"camera '{camera_id}' does not exist")
            return row

    def update(self, camera_id: str, camera: CameraConfig) -> None:
        """Store ``camera`` as the new settings of ``camera_id`` (``CameraNotFound`` if there is none)."""
        with self.db.session() as session:
            row = session.get(CameraRow, camera_id)
            if row is None:
                raise CameraNotFound(f"camera '{camera_id}' does not exist")
            _apply(row, camera)

    def set_enabled(self, camera_id: str, enabled: bool) -> None:
        """Enable or disable a camera (workers start or stop it at their next registry read)."""
        with self.db.session() as session:
            row = session.get(CameraRow, camera_id)
            if row is None:
                raise CameraNotFound(f"camera '{camera_id}' does not exist")
            row.enabled = enabled

    def groups(self) -> list[GroupRow]:
        """Every camera group, by id."""
        with self.db.session() as session:
            return list(session.scalars(select(GroupRow).order_by(GroupRow.id)))

    def storage(self) -> dict[str, dict[str, Any]]:
        """Recordings in the index by camera: ``bytes``, ``segments``, ``oldest`` start and ``newest`` end (ISO 8601)."""
        with self.db.session() as session:
            rows = session.execute(
                select(Segment.camera_id, func.sum(Segment.bytes), func.count(Segment.id), func.min(Segment.start),
                       func.max(Segment.end)).group_by(Segment.camera_id)
            ).all()
        return {
            camera_id: {"bytes": int(size or 0), "segments": count, "oldest": oldest.isoformat() if oldest else None,
                        "newest": newest.isoformat() if newest else None}
            for camera_id, size, count, oldest, newest in rows
        }

    def all(self) -> list[CameraRow]:
        with self.db.session() as session:
            return list(session.scalars(select(CameraRow).order_by(CameraRow.id)))

    def enabled_specs(self) -> list[CameraSpec]:
        with self.db.session() as session:
            rows = session.scalars(select(CameraRow).where(CameraRow.enabled.is_(True)).order_by(CameraRow.id))
            return [CameraSpec.from_row(row) for row in rows]
