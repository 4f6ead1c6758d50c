"""Signing in and out, the signed-in user, password change and API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from dashboard.api.deps import get_runtime
from dashboard.api.responses import LoginOut, MeOut, TokenCreated, TokenOut
from dashboard.problems import Problem, coded
from dashboard.services import Services
from dashboard.security import (
    PUBLIC,
    SESSION_COOKIE,
    SIGNED_IN,
    Principal,
    client_ip,
    optional_user,
    require,
    security_config,
)
from vms.auth.audit import audit
from vms.auth.passwords import WeakPassword
from vms.auth.roles import Capability, parse_capabilities, playback_earliest
from vms.auth.sessions import api_tokens, create_session, revoke_session, revoke_token, revoke_user_sessions
from vms.auth.signin import SecondFactorRequired, SignInCheck
from vms.auth.two_factor import TwoFactor
from vms.auth.users import LoginFailed, Users
from vms.db.types import utcnow
from vms.metrics import LOGINS

router = APIRouter(tags=["auth"])
# Routes that change the account itself: a token narrowed to other scopes may not use them.
ACCOUNT = require(Capability.ACCOUNT)


class LoginBody(BaseModel):
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1024)
    # True: return a bearer token in the answer (scripts, players) instead of setting a cookie.
    bearer: bool = False
    # The second factor, for users who have it on: a 6-digit code from the app, or a recovery code.
    code: str | None = Field(default=None, max_length=32)


class PasswordBody(BaseModel):
    old_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class TokenBody(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    # Limit the token to these capabilities (e.g. ["metrics.read"] for Prometheus); default: all of yours.
    scopes: list[str] | None = None
    days: float | None = Field(default=None, gt=0, le=3650)


def _me(principal: Principal, request: Request) -> dict:
    config = security_config(request)
    visible = principal.access.visible_groups()
    earliest = playback_earliest(principal.role, config, utcnow())
    factor = TwoFactor(request.app.state.runtime.db, config.two_factor)
    status = factor.status(principal.user.id)
    return {
        "user": principal.user.to_dict(),
        "capabilities": sorted(c.value for c in Capability if principal.access.has(c)),
        "groups": None if visible is None else sorted(visible),
        "playback_lookback_minutes": config.operator_lookback_minutes if earliest is not None else None,
        "csrf_token": principal.csrf_token if principal.via == "cookie" else None,
        "via": principal.via,
        # the dock offers take-over and close of others' alarms to these (alarms.supervisor_roles)
        "alarm_supervisor": principal.role.value in request.app.state.runtime.settings.alarms.supervisor_roles,
        "two_factor": {
            "enabled": status.enabled,
            "required": factor.required_for(principal.role),
            "enrolment_required": principal.stage == "enrol",
        },
    }


@router.post("/auth/login", dependencies=[PUBLIC], response_model=LoginOut, response_model_exclude_unset=True)
def login(body: LoginBody, request: Request, response: Response, runtime: Services = Depends(get_runtime)) -> dict:
    """Sign in with username, password and, when two-factor is on, ``code``: sets the session
    cookie (or returns a bearer token) and returns the CSRF token.

    401 ``second-factor-required`` when the password is right but the code is missing; a user
    whose role needs two-factor and has not set it up gets a session that may only enrol."""
    config = security_config(request)
    address = client_ip(request)
    users = Users(runtime.db, config)
    try:
        signed_in = SignInCheck(users).authenticate(body.username, body.password, address, body.code)
    except SecondFactorRequired:
        raise Problem(401, "second-factor-required", "type the 6-digit code from your authenticator app",
                      "Second factor required") from None
    except LoginFailed as failed:
        LOGINS.labels("locked" if failed.locked else "failed").inc()
        audit(runtime.db, body.username[:64], "login.locked" if failed.locked else "login.failed", "",
              {"reason": failed.reason}, address)
        for lockout in failed.lockouts:
            audit(runtime.db, body.username[:64], "login.lockout", "", lockout, address)
        if failed.locked:
            retry = max(1, int(failed.retry_after or 1))
            raise Problem(429, "too-many-attempts", f"too many failed sign-ins; try again in {retry} s",
                          headers={"Retry-After": str(retry)}) from None
        raise Problem(401, "bad-credentials", "wrong username or password") from None
    user = signed_in.user
    previous = optional_user(request)
    if previous is not None and previous.via == "cookie":
        revoke_session(runtime.db, previous.session_id)  # a fresh session at every sign-in (no fixation)
    if body.bearer and signed_in.enrol:
        raise Problem(403, "two-factor-enrolment-required",
                      "your role signs in with a second factor: set it up in the dashboard first")
    issued = create_session(runtime.db, user.id, config, kind="api" if body.bearer else "browser",
                            client_ip=address, user_agent=request.headers.get("user-agent", ""),
                            name="login" if body.bearer else "", days=config.session_hours / 24 if body.bearer else None,
                            stage="enrol" if signed_in.enrol else "full")
    LOGINS.labels("ok").inc()
    audit(runtime.db, user, "login.ok", "", {"via": "bearer" if body.bearer else "cookie",
                                             "second_factor": signed_in.second_factor,
                                             "enrolment_required": signed_in.enrol}, address)
    answer = {
        "user": user.to_dict(),
        "csrf_token": None if body.bearer else issued.csrf_token,
        "expires_at": issued.expires_at.isoformat() if issued.expires_at else None,
        "two_factor_enrolment_required": signed_in.enrol,
    }
    if body.bearer:
        answer["token"] = issued.token
    else:
        response.set_cookie(
            SESSION_COOKIE, issued.token, max_age=int(config.session_hours * 3600), path="/",
            secure=config.cookie_secure, httponly=True, samesite="strict",
        )
    response.headers["Cache-Control"] = "no-store"
    return answer


@router.post("/auth/logout", status_code=204)
def logout(request: Request, user: Principal = SIGNED_IN, runtime: Services = Depends(get_runtime)) -> Response:
    revoke_session(runtime.db, user.session_id)
    audit(runtime.db, user, "logout", "", {"via": user.via}, client_ip(request))
    response = Response(status_code=204)
    config = security_config(request)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=config.cookie_secure, httponly=True, samesite="strict")
    return response


@router.get("/auth/me", response_model=MeOut, response_model_exclude_unset=True)
def me(request: Request, user: Principal = SIGNED_IN) -> dict:
    """Who is signed in, what they may do, and the CSRF token of a cookie session."""
    return _me(user, request)


class SessionState(BaseModel):
    signed_in: bool
    me: MeOut | None = None  # what GET /auth/me answers, when signed in


@router.get("/auth/session", dependencies=[PUBLIC], response_model=SessionState)
def session_state(request: Request) -> dict:
    """Whether this browser is signed in (200 either way, so a signed-out page logs no error)."""
    principal = optional_user(request)
    return {"signed_in": principal is not None, "me": _me(principal, request) if principal is not None else None}


@router.post("/auth/password", status_code=204)
def change_password(body: PasswordBody, request: Request, user: Principal = ACCOUNT,
                    runtime: Services = Depends(get_runtime)) -> Response:
    """Change your own password; your other sessions and tokens end."""
    users = Users(runtime.db, security_config(request))
    address = client_ip(request)
    try:
        users.change_password(user.username, body.old_password, body.new_password)
    except LoginFailed:
        audit(runtime.db, user, "password.change.failed", user.username, {"reason": "wrong current password"}, address)
        raise Problem(400, "wrong-password", "the current password is wrong") from None
    except WeakPassword as weak:
        raise Problem(422, "weak-password", str(weak), params={"reason": weak.code, **weak.params}) from None
    ended = revoke_user_sessions(runtime.db, user.user.id, keep=user.session_id)
    audit(runtime.db, user, "password.change", user.username, {"sessions_ended": ended}, address)
    return Response(status_code=204)


@router.post("/auth/tokens", status_code=201, response_model=TokenCreated, response_model_exclude_unset=True)
def create_token(body: TokenBody, request: Request, user: Principal = ACCOUNT,
                 runtime: Services = Depends(get_runtime)) -> dict:
    """An API token for scripts, Prometheus or players; shown once."""
    try:
        scopes = parse_capabilities(body.scopes) if body.scopes is not None else None
    except ValueError as exc:
        raise coded(422, "bad-scope", exc) from None
    if scopes is not None and not all(user.access.has(c) for c in scopes):
        raise Problem(403, "not-allowed", "a token cannot do more than its user", params={"reason": "token-wider"})
    if user.access.scopes is not None:  # a narrowed token cannot mint a wider one
        scopes = (scopes or user.access.scopes) & user.access.scopes
    names = sorted(c.value for c in scopes) if scopes is not None else None
    issued = create_session(runtime.db, user.user.id, security_config(request), kind="api", client_ip=client_ip(request),
                            name=body.name, scopes=names, days=body.days)
    audit(runtime.db, user, "token.create", body.name, {"token_id": issued.id, "scopes": names, "days": body.days},
          client_ip(request))
    return {"id": issued.id, "token": issued.token, "name": body.name, "scopes": names,
            "expires_at": issued.expires_at.isoformat() if issued.expires_at else None}


@router.get("/auth/tokens", response_model=list[TokenOut], response_model_exclude_unset=True)
def list_tokens(user: Principal = ACCOUNT, runtime: Services = Depends(get_runtime)) -> list[dict]:
    """Your API tokens (never the tokens themselves)."""
    return [
        {"id": r.id, "name": r.name, "scopes": r.scopes, "created_at": r.created_at.isoformat(),
         "expires_at": r.expires_at.isoformat() if r.expires_at else None, "last_seen_at": r.last_seen_at.isoformat()}
        for r in api_tokens(runtime.db, user.user.id)
    ]


@router.delete("/auth/tokens/{token_id}", status_code=204)
def delete_token(token_id: str, request: Request, user: Principal = ACCOUNT,
                 runtime: Services = Depends(get_runtime)) -> Response:
    if not revoke_token(runtime.db, user.user.id, token_id):
        raise Problem(404, "token-not-found", "no such token")
    audit(runtime.db, user, "token.delete", token_id, {}, client_ip(request))
    return Response(status_code=204)
