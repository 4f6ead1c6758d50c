"""The camera registry in the database, kept in step with the YAML configuration."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select, text

from vms.config.cameras import CameraConfig, GroupConfig
from vms.db import CameraRow, Database, GroupRow


class CameraNotFound(LookupError):
    pass


class CameraExists(ValueError):
    pass


@dataclass(frozen=True)
class CameraSpec:
    """Everything a worker needs to pull and record one camera (credentials included: never log it)."""

    id: str
    name: str
    group: str
    main_url: str
    sub_url: str | None
    username: str | None
    password: str | None
    recording_enabled: bool
    segment_seconds: float
    record_stream: str

    @classmethod
    def from_row(cls, row: CameraRow) -> "CameraSpec":
        return cls(
            id=row.id,
            name=row.name,
            group=row.group_id,
            main_url=row.main_url,
            sub_url=row.sub_url,
            username=row.username,
            password=row.password,
            recording_enabled=row.recording_enabled,
            segment_seconds=row.segment_seconds,
            record_stream=row.record_stream,
        )

    def source(self) -> tuple:
        """What the camera's pipeline is built from: a change here restarts it, any other (name,
        group) does not (a rename cost 1.6 s of recording, issue 11)."""
        return (self.main_url, self.sub_url, self.username, self.password, self.recording_enabled,
                self.segment_seconds, self.record_stream)

    def __repr__(self) -> str:  # keep the password out of tracebacks and debug logs
        return f"CameraSpec(id={self.id!r}, main_url={self.main_url!r}, user={'set' if self.username else 'none'})"


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
                row = session.get(CameraRow, camera.id) or CameraRow(id=camera.id, source="config")
                _apply(row, camera)
                session.add(row)
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
            if session.execute(delete(CameraRow).where(CameraRow.id == camera_id)).rowcount == 0:
                raise CameraNotFound(f"camera '{camera_id}' does not exist")

    def get(self, camera_id: str) -> CameraRow:
        with self.db.session() as session:
            row = session.get(CameraRow, camera_id)
            if row is None:
                raise CameraNotFound(f"camera '{camera_id}' does not exist")
            return row

    def all(self) -> list[CameraRow]:
        with self.db.session() as session:
            return list(session.scalars(select(CameraRow).order_by(CameraRow.id)))

    def enabled_specs(self) -> list[CameraSpec]:
        with self.db.session() as session:
            rows = session.scalars(select(CameraRow).where(CameraRow.enabled.is_(True)).order_by(CameraRow.id))
            return [CameraSpec.from_row(row) for row in rows]
