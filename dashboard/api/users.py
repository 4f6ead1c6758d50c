"""Users, roles and group grants (admins only). Users are disabled, never deleted, so the audit log keeps its names."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from dashboard.api.deps import get_runtime
from dashboard.api.params import RowId
from dashboard.api.responses import GrantOut, UserOut
from dashboard.api.revocation import end_user_activity
from dashboard.problems import Problem, coded
from dashboard.services import Services
from dashboard.security import Principal, client_ip, require, security_config
from vms.auth.audit import audit
from vms.auth.passwords import WeakPassword
from vms.auth.roles import Capability, Role
from vms.auth.sessions import revoke_user_sessions
from vms.auth.two_factor import TwoFactor
from vms.auth.users import UserExists, UserNotFound, Users

router = APIRouter(tags=["users"])
ADMIN = require(Capability.USER_MANAGE)


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(max_length=64)
    display_name: str = Field(default="", max_length=200)
    role: Role
    password: str = Field(max_length=1024)


class UserChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: str | None = Field(default=None, max_length=200)
    role: Role | None = None
    disabled: bool | None = None
    unlock: bool = False
    # A new password set by the admin (the user's sessions end).
    password: str | None = Field(default=None, max_length=1024)
    # Lost phone: turn the user's two-factor off; they enrol again at their next sign-in.
    reset_two_factor: bool = False


class NewGrant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str | None = None
    role: Role | None = None
    group: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    capabilities: list[str] = Field(min_length=1)


def _users(request: Request, runtime: Services) -> Users:
    return Users(runtime.db, security_config(request))


@router.get("/users", response_model=list[UserOut], response_model_exclude_unset=True)
def list_users(request: Request, user: Principal = ADMIN, runtime: Services = Depends(get_runtime)) -> list[dict]:
    return [u.to_dict() for u in _users(request, runtime).all()]


@router.post("/users", status_code=201, response_model=UserOut, response_model_exclude_unset=True)
def add_user(body: NewUser, request: Request, user: Principal = ADMIN, runtime: Services = Depends(get_runtime)) -> dict:
    try:
        created = _users(request, runtime).add(body.username, body.password, body.role, body.display_name)
    except UserExists as exc:
        raise Problem(409, "user-exists", str(exc)) from None
    except WeakPassword as exc:
        raise Problem(422, "weak-password", str(exc), params={"reason": exc.code, **exc.params}) from None
    except ValueError as exc:
        raise coded(422, "invalid-user", exc) from None
    audit(runtime.db, user, "user.add", created.username, {"role": created.role.value}, client_ip(request))
    return created.to_dict()


@router.patch("/users/{username}", response_model=UserOut, response_model_exclude_unset=True)
def change_user(username: str, body: UserChange, request: Request, user: Principal = ADMIN,
                runtime: Services = Depends(get_runtime)) -> dict:
    users = _users(request, runtime)
    try:
        before = users.get(username)
    except UserNotFound as exc:
        raise Problem(404, "user-not-found", str(exc), params={"user": username}) from None
    demoting = body.role is not None and body.role != Role.ADMIN
    if before.role == Role.ADMIN and not before.disabled and (demoting or body.disabled) and users.active_admins() <= 1:
        raise Problem(409, "last-admin", "this is the last active admin; add another admin first")
    try:
        if body.password is not None:
            users.set_password(username, body.password)
        after = users.update(username, body.display_name, body.role, body.disabled, body.unlock)
    except WeakPassword as exc:
        raise Problem(422, "weak-password", str(exc), params={"reason": exc.code, **exc.params}) from None
    changes = body.model_dump(exclude_unset=True, exclude={"password"})
    if body.password is not None:
        changes["password_reset"] = True
    if body.reset_two_factor:
        changes["reset_two_factor"] = TwoFactor(runtime.db, security_config(request).two_factor).remove(after.id)
    if body.password is not None or body.disabled or body.reset_two_factor or (body.role is not None and body.role != before.role):
        changes["sessions_ended"] = revoke_user_sessions(runtime.db, after.id)
        changes["live_sessions_ended"] = end_user_activity(runtime, [after.id])
    audit(runtime.db, user, "user.update", username, changes, client_ip(request))
    return after.to_dict()


@router.get("/grants", response_model=list[GrantOut], response_model_exclude_unset=True)
def list_grants(request: Request, user: Principal = ADMIN, runtime: Services = Depends(get_runtime)) -> list[dict]:
    return _users(request, runtime).grants()


@router.post("/grants", status_code=201, response_model=GrantOut, response_model_exclude_unset=True)
def add_grant(body: NewGrant, request: Request, user: Principal = ADMIN, runtime: Services = Depends(get_runtime)) -> dict:
    try:
        grant = _users(request, runtime).add_grant(body.group, body.capabilities, body.user, body.role, by=user.username)
    except UserNotFound as exc:
        raise Problem(404, "user-not-found", str(exc), params={"user": body.user}) from None
    except ValueError as exc:
        raise coded(422, "invalid-grant", exc) from None
    audit(runtime.db, user, "grant.add", body.user or f"role:{body.role.value}", grant, client_ip(request))
    return grant


@router.delete("/grants/{grant_id}", status_code=204)
def remove_grant(grant_id: RowId, request: Request, user: Principal = ADMIN, runtime: Services = Depends(get_runtime)) -> Response:
    users = _users(request, runtime)
    try:
        grant = users.remove_grant(grant_id)
    except LookupError as exc:
        raise Problem(404, "grant-not-found", str(exc)) from None
    # Who held it: their live video and event streams end now (new ones are checked afresh).
    holders = [users.get(grant["user"])] if grant["user"] else [u for u in users.all() if u.role.value == grant["role"]]
    ended = end_user_activity(runtime, [holder.id for holder in holders])
    audit(runtime.db, user, "grant.remove", grant["user"] or f"role:{grant['role']}", {**grant, "live_sessions_ended": ended},
          client_ip(request))
    return Response(status_code=204)
