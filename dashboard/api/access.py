"""Which cameras a user may use a capability on, for routes that list across cameras."""

from __future__ import annotations

from sqlalchemy import select

from dashboard.security import Principal
from vms.auth.roles import Capability
from vms.db import CameraRow, Database


def cameras_with(db: Database, user: Principal, capability: Capability) -> set[str]:
    with db.session() as session:
        rows = session.execute(select(CameraRow.id, CameraRow.group_id)).all()
    return {camera_id for camera_id, group_id in rows if user.can(capability, group_id)}
