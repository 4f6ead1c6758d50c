"""Evidence locks managed explicitly: list, create, extend, release, each one audited.

A lock protects [start, end) of one camera from retention (``vms.recordings.retention`` never
deletes a segment overlapping one). Releasing deletes the row, so retention may reclaim the
range; the audit log keeps what was released, by whom and why.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from vms.auth.audit import Actor, audit
from vms.db import Database, EvidenceLock
from vms.recordings.retention import lock_range


class LockNotFound(LookupError):
    pass


def _detail(lock: EvidenceLock) -> dict[str, Any]:
    return {"lock": lock.id, "camera": lock.camera_id, "start": lock.start, "end": lock.end, "reason": lock.reason}


def list_locks(db: Database, camera_ids: set[str] | None = None, camera_id: str | None = None) -> list[EvidenceLock]:
    """Locks, newest first; ``camera_ids`` limits them to cameras the caller may see (None: all)."""
    query = select(EvidenceLock).order_by(EvidenceLock.created_at.desc(), EvidenceLock.id.desc())
    if camera_id is not None:
        query = query.where(EvidenceLock.camera_id == camera_id)
    if camera_ids is not None:
        query = query.where(EvidenceLock.camera_id.in_(camera_ids))
    with db.session() as session:
        return list(session.scalars(query))


def get_lock(db: Database, lock_id: int) -> EvidenceLock:
    with db.session() as session:
        lock = session.get(EvidenceLock, lock_id)
    if lock is None:
        raise LockNotFound(f"evidence lock {lock_id} does not exist")
    return lock


def create_lock(db: Database, actor: Actor, camera_id: str, start: datetime, end: datetime, reason: str,
                client_ip: str = "") -> EvidenceLock:
    """Lock [start, end); ValueError when the range is empty."""
    lock = get_lock(db, lock_range(db, camera_id, start, end, reason, actor.username))
    audit(db, actor, "lock.create", camera_id, _detail(lock), client_ip)
    return lock


def extend_lock(db: Database, actor: Actor, lock_id: int, start: datetime | None, end: datetime | None,
                client_ip: str = "") -> EvidenceLock:
    """Widen a lock (an earlier start, a later end). Narrowing would be a partial release, so
    it is refused with ValueError: release and lock again instead."""
    with db.session() as session:
        lock = session.get(EvidenceLock, lock_id)
        if lock is None:
            raise LockNotFound(f"evidence lock {lock_id} does not exist")
        before = (lock.start, lock.end)
        new_start, new_end = start or lock.start, end or lock.end
        if new_start > lock.start or new_end < lock.end:
            raise ValueError("a lock can only be widened; release it and lock the smaller range instead")
        lock.start, lock.end = new_start, new_end
        session.flush()
        detail = {**_detail(lock), "was": [before[0], before[1]]}
    audit(db, actor, "lock.extend", lock.camera_id, detail, client_ip)
    return lock


def release_lock(db: Database, actor: Actor, lock_id: int, reason: str, client_ip: str = "") -> EvidenceLock:
    """Remove the lock; ValueError without a reason (the audit entry must say why)."""
    if not reason.strip():
        raise ValueError("say why the lock is released")
    with db.session() as session:
        lock = session.get(EvidenceLock, lock_id)
        if lock is None:
            raise LockNotFound(f"evidence lock {lock_id} does not exist")
        session.delete(lock)
    audit(db, actor, "lock.release", lock.camera_id, {**_detail(lock), "why": reason}, client_ip)
    return lock
