"""Who is asking, and may they: sessions, CSRF, and the access rule every route declares.

A route declares its rule as a dependency: ``PUBLIC``, ``SIGNED_IN``, ``require(capability)``
or ``require_camera(capability)`` (the camera comes from the ``camera_id`` path parameter).
A route without a rule is refused by the gatekeeper (403) and fails the route-table test.

Denials: 401 without a valid session or token; 403 when the user lacks the capability;
404 for a camera the user may not see at all, exactly as for one that does not exist, so
camera ids cannot be probed.
"""

from __future__ import annotations

import abc

import hmac
import logging
import re
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.requests import HTTPConnection

from dashboard.problems import Problem
from vms.auth.roles import Access, Capability, Role
from vms.auth.sessions import resolve_session
from vms.auth.users import User, Users
from vms.config.cameras import ID_PATTERN
from vms.config.security import SecurityConfig
from vms.db import CameraRow

log = logging.getLogger(__name__)

SESSION_COOKIE = "vms_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Not API routes, served without a rule: the API description and the static files of the UI.
PUBLIC_PATHS = frozenset({"/openapi.json"})
PUBLIC_MOUNTS = frozenset({"/static"})

_CAMERA_ID = re.compile(ID_PATTERN)


@dataclass(frozen=True)
class Principal:
    """The signed-in user of one request, with what they may do."""

    user: User
    access: Access
    session_id: str
    via: str  # "cookie" or "bearer"
    csrf_token: str
    stage: str = "full"  # "enrol": may only set up two-factor sign-in (or sign out)

    @property
    def username(self) -> str:
        return self.user.username

    @property
    def role(self) -> Role:
        return self.user.role

    def can(self, capability: Capability, group_id: str | None = None) -> bool:
        return self.access.has(capability) if group_id is None else self.access.on_group(group_id, capability)


def security_config(connection: HTTPConnection) -> SecurityConfig:
    return connection.app.state.security


def client_ip(connection: HTTPConnection) -> str:
    """The peer's address. Behind a reverse proxy, run uvicorn with --proxy-headers so this is the client."""
    return connection.client.host if connection.client else ""


def _token(connection: HTTPConnection) -> tuple[str | None, str]:
    header = connection.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        return (token.strip() if scheme.lower() == "bearer" else None), "bearer"
    return connection.cookies.get(SESSION_COOKIE), "cookie"


def optional_user(connection: HTTPConnection) -> Principal | None:
    """The signed-in user, or None (a bad token counts as none)."""
    if hasattr(connection.state, "principal"):
        return connection.state.principal
    token, via = _token(connection)
    principal = None
    if token:
        runtime = connection.app.state.runtime
        config = security_config(connection)
        found = resolve_session(runtime.db, token, config)
        if found is not None:
            user_row, session_row = found
            user = User.from_row(user_row)
            access = Users(runtime.db, config).access(user, session_row.scopes)
            principal = Principal(user, access, session_row.id, via, session_row.csrf_token, session_row.stage or "full")
    connection.state.principal = principal
    return principal


def current_user(connection: HTTPConnection) -> Principal:
    """The signed-in user; 401 without one, 403 for a cookie request lacking its CSRF token, and
    403 for a session that must set up two-factor sign-in before anything else."""
    principal = enrolling_user(connection)
    if principal.stage != "full":
        raise Problem(403, "two-factor-enrolment-required",
                      "your role signs in with a second factor: set it up first (POST /api/auth/two-factor/enrolment)")
    return principal


def enrolling_user(connection: HTTPConnection) -> Principal:
    """As ``current_user``, but a session that still has to set up two-factor sign-in passes too."""
    principal = optional_user(connection)
    if principal is None:
        raise Problem(401, "sign-in-required", "sign in, or send 'Authorization: Bearer <token>'",
                      headers={"WWW-Authenticate": 'Bearer realm="vms"'})
    if principal.via == "cookie":
        _check_csrf(connection, principal)
    return principal


def _check_csrf(connection: HTTPConnection, principal: Principal) -> None:
    if connection.scope["type"] == "websocket":
        # Browsers send Origin on every WebSocket handshake; it must be this server.
        origin = connection.headers.get("origin")
        if origin and urlsplit(origin).netloc != connection.headers.get("host"):
            raise Problem(403, "bad-origin", "WebSocket from another site refused")
        return
    if connection.scope.get("method", "GET") in SAFE_METHODS:
        return
    sent = connection.headers.get(CSRF_HEADER, "")
    if not sent or not hmac.compare_digest(sent.encode(), principal.csrf_token.encode()):
        raise Problem(403, "csrf-token-missing",
                      f"send the CSRF token given at sign-in in the {CSRF_HEADER} header (or use a bearer token)")


# --- rules -------------------------------------------------------------------------------


class Rule(abc.ABC):
    """The access rule of a route. Exactly one per route; found by walking its dependencies."""

    capability: Capability | None = None
    camera_scoped = False
    public = False

    def __repr__(self) -> str:
        return f"<rule {self.describe()}>"

    @abc.abstractmethod
    def describe(self) -> str:
        """The rule in a few words, for the route table and error messages."""


class _Public(Rule):
    public = True

    def describe(self) -> str:
        return "public"

    def __call__(self) -> None:
        return None


class _SignedIn(Rule):
    """Any signed-in session, also one that must still set up two-factor sign-in (who am I, sign out)."""

    def describe(self) -> str:
        return "signed-in"

    def __call__(self, user: Principal = Depends(enrolling_user)) -> Principal:
        return user


class _Enrolling(Rule):
    """Your own account, even before two-factor enrolment is done: the enrolment routes, sign-out, who am I."""

    capability = Capability.ACCOUNT

    def describe(self) -> str:
        return "account:enrolling"

    def __call__(self, user: Principal = Depends(enrolling_user)) -> Principal:
        if not user.access.has(Capability.ACCOUNT):
            raise Problem(403, "not-allowed", "this token is limited to other scopes than 'account'",
                          params={"reason": "token-scope", "capability": "account"})
        return user


class _Global(Rule):
    def __init__(self, capability: Capability) -> None:
        self.capability = capability

    def describe(self) -> str:
        return self.capability.value

    def __call__(self, user: Principal = Depends(current_user)) -> Principal:
        if not user.access.has(self.capability):
            raise Problem(403, "not-allowed", f"your role ({user.role.value}) may not use '{self.capability.value}'",
                          params={"reason": "capability", "role": user.role.value, "capability": self.capability.value})
        return user


class _OnCamera(Rule):
    camera_scoped = True

    def __init__(self, capability: Capability) -> None:
        self.capability = capability

    def describe(self) -> str:
        return f"camera:{self.capability.value}"

    def __call__(self, connection: HTTPConnection, user: Principal = Depends(current_user)) -> Principal:
        camera_id = connection.path_params.get("camera_id")
        if camera_id is None:
            raise RuntimeError("require_camera() used on a route without a {camera_id} path parameter")
        connection.state.camera_group = check_camera(connection, user, camera_id, self.capability)
        return user


def check_camera(connection: HTTPConnection, user: Principal, camera_id: str, capability: Capability) -> str:
    """The camera's group if ``user`` may use ``capability`` on it; 404 when unseen or unknown, else 403."""
    if not isinstance(camera_id, str) or not _CAMERA_ID.match(camera_id):
        raise Problem(404, "camera-not-found", "no such camera")
    with connection.app.state.runtime.db.session() as session:
        camera = session.get(CameraRow, camera_id)
        group_id = camera.group_id if camera is not None else None
    if group_id is None or not user.access.sees(group_id):
        raise Problem(404, "camera-not-found", f"camera '{camera_id}' does not exist")
    if not user.access.on_group(group_id, capability):
        raise Problem(403, "not-allowed", f"your role ({user.role.value}) may not use '{capability.value}' on camera '{camera_id}'",
                      params={"reason": "capability", "role": user.role.value, "capability": capability.value,
                              "camera": camera_id})
    return group_id


PUBLIC = Depends(_Public())
SIGNED_IN = Depends(_SignedIn())
# Routes a user needing two-factor enrolment may already use (and a narrowed token may not).
ENROLLING = Depends(_Enrolling())


@cache
def _global_rule(capability: Capability) -> _Global:
    return _Global(capability)


@cache
def _camera_rule(capability: Capability) -> _OnCamera:
    return _OnCamera(capability)


def require(capability: Capability):
    """Dependency: the signed-in user's role has ``capability`` (403 otherwise)."""
    return Depends(_global_rule(Capability(capability)))


def require_camera(capability: Capability):
    """Dependency: the user may use ``capability`` on the camera named by the ``camera_id`` path parameter."""
    return Depends(_camera_rule(Capability(capability)))


# --- the route table ---------------------------------------------------------------------


def route_rules(route) -> list[Rule]:
    """The rules among a route's dependencies (at any depth)."""
    found: list[Rule] = []
    dependant = getattr(route, "dependant", None)
    stack = list(dependant.dependencies) if dependant is not None else []
    while stack:
        dependant = stack.pop()
        if isinstance(dependant.call, Rule) and dependant.call not in found:
            found.append(dependant.call)
        stack.extend(dependant.dependencies)
    return found


def api_routes(app: FastAPI) -> list:
    """Every API and WebSocket route as served (prefixes and router-level dependencies applied)."""
    try:  # FastAPI >= 0.150 keeps included routers lazily; this lists their effective routes
        from fastapi.routing import iter_route_contexts

        pairs = [(ctx.original_route, ctx) for ctx in iter_route_contexts(app.routes)]
    except ImportError:
        pairs = [(route, route) for route in app.routes]
    return [served for original, served in pairs if isinstance(original, (APIRoute, APIWebSocketRoute))]


def route_label(route) -> str:
    methods = ",".join(sorted(getattr(route, "methods", None) or {"WS"}))
    return f"{methods} {route.path}"


def unruled_routes(app: FastAPI) -> list[str]:
    """'METHODS /path (module)' of every API route declaring no rule."""
    return [
        f"{route_label(route)} ({route.endpoint.__module__})" for route in api_routes(app) if not route_rules(route)
    ]


def matched_route(scope) -> object | None:
    """The route a request was routed to, as served (with its router's prefix and dependencies)."""
    fastapi_scope = scope.get("fastapi")
    if isinstance(fastapi_scope, dict) and fastapi_scope.get("effective_route_context") is not None:
        return fastapi_scope["effective_route_context"]
    return scope.get("route")


def gatekeeper(connection: HTTPConnection) -> None:
    """App-wide dependency: refuse any route that declares no rule (fail closed)."""
    route = matched_route(connection.scope)
    if route is None:
        return
    allowed = getattr(route, "_vms_has_rule", None)
    if allowed is None:
        allowed = bool(route_rules(route))
        route._vms_has_rule = allowed
    if not allowed:
        raise Problem(403, "no-access-rule", "this route declares no access rule, so it is refused")


def report_unruled(app: FastAPI) -> None:
    missing = unruled_routes(app)
    if missing:
        log.error("routes without an access rule (they answer 403): %s", "; ".join(missing))
