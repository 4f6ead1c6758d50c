"""Evidence locks: list, create and extend (investigators, admins), release (admins), all audited."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from dashboard.api.access import cameras_with
from dashboard.api.deps import get_runtime
from dashboard.problems import Problem
from dashboard.services import Services
from dashboard.security import Principal, check_camera, client_ip, require
from vms.auth.roles import Capability
from vms.db import EvidenceLock
from vms.evidence.locks import LockNotFound, create_lock, extend_lock, get_lock, list_locks, release_lock

router = APIRouter(tags=["evidence"])
LOCKER = require(Capability.EXPORT)
RELEASER = require(Capability.EVIDENCE_RELEASE)


class LockOut(BaseModel):
    id: int
    camera_id: str
    start: datetime
    end: datetime
    reason: str
    created_by: str
    created_at: datetime

    @classmethod
    def of(cls, lock: EvidenceLock) -> "LockOut":
        return cls(id=lock.id, camera_id=lock.camera_id, start=lock.start, end=lock.end, reason=lock.reason,
                   created_by=lock.created_by, created_at=lock.created_at)


class LockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camera_id: str = Field(max_length=64)
    start: datetime
    end: datetime
    reason: str = Field(min_length=1, max_length=2000, description="case number or why the range must be kept")


class ExtendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: datetime | None = None
    end: datetime | None = None


def aware(*moments: datetime | None) -> None:
    if any(m is not None and m.tzinfo is None for m in moments):
        raise Problem(400, "naive-time", "times need a time zone, e.g. 2026-05-01T08:00:00+07:00 or ...Z")


def _visible_lock(request: Request, user: Principal, lock_id: int, capability: Capability) -> EvidenceLock:
    try:
        lock = get_lock(request.app.state.runtime.db, lock_id)
    except LockNotFound:
        raise Problem(404, "lock-not-found", f"evidence lock {lock_id} does not exist") from None
    check_camera(request, user, lock.camera_id, capability)
    return lock


@router.get("/evidence/locks", response_model=list[LockOut])
def locks(camera_id: str | None = None, user: Principal = LOCKER,
          runtime: Services = Depends(get_runtime)) -> list[LockOut]:
    """Every lock on cameras you may export, newest first."""
    return [LockOut.of(lock) for lock in
            list_locks(runtime.db, cameras_with(runtime.db, user, Capability.EXPORT), camera_id)]


@router.post("/evidence/locks", response_model=LockOut, status_code=201)
def lock(body: LockIn, request: Request, user: Principal = LOCKER, runtime: Services = Depends(get_runtime)) -> LockOut:
    check_camera(request, user, body.camera_id, Capability.EXPORT)
    aware(body.start, body.end)
    try:
        return LockOut.of(create_lock(runtime.db, user, body.camera_id, body.start, body.end, body.reason,
                                      client_ip(request)))
    except ValueError as exc:
        raise Problem(400, "bad-range", str(exc)) from None


@router.post("/evidence/locks/{lock_id}/extend", response_model=LockOut)
def extend(lock_id: int, body: ExtendIn, request: Request, user: Principal = LOCKER,
           runtime: Services = Depends(get_runtime)) -> LockOut:
    """Widen a lock: an earlier start and/or a later end."""
    aware(body.start, body.end)
    _visible_lock(request, user, lock_id, Capability.EXPORT)
    try:
        return LockOut.of(extend_lock(runtime.db, user, lock_id, body.start, body.end, client_ip(request)))
    except ValueError as exc:
        raise Problem(400, "lock-narrowed", str(exc)) from None


@router.delete("/evidence/locks/{lock_id}", response_model=LockOut)
def release(lock_id: int, request: Request, reason: str = "", user: Principal = RELEASER,
            runtime: Services = Depends(get_runtime)) -> LockOut:
    """Release a lock so retention may delete the range; ``reason`` is required and audited."""
    _visible_lock(request, user, lock_id, Capability.EXPORT)
    try:
        return LockOut.of(release_lock(runtime.db, user, lock_id, reason, client_ip(request)))
    except ValueError as exc:
        raise Problem(400, "reason-required", str(exc)) from None
