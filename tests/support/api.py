"""The real ASGI app over a real SQLite database, with users of every role, for API tests."""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator

import httpx

import vms.db.auth  # noqa: F401  (registers the tables before the runtime creates them)
import vms.db.exports  # noqa: F401
from dashboard.app import create_app
from tests.support.totp import Authenticator, sign_in
from vmsapp.runtime import Runtime
from vms.auth.roles import Role
from vms.auth.sessions import create_session
from vms.auth.users import Users
from vms.cameras.registry import CameraRegistry
from vms.config import CameraConfig, Settings
from vms.config.security import SecurityConfig

BASE_URL = "https://testserver"  # https: the session cookie is Secure
ROLES = [r.value for r in Role]
PASSWORD = "Correct-Horse-7-Battery"


def password_of(username: str) -> str:
    return f"{PASSWORD}-{len(username)}"


@dataclass
class ApiSystem:
    runtime: Runtime
    app: object
    client: httpx.AsyncClient
    users: dict[str, int] = field(default_factory=dict)  # username -> id
    phone: Authenticator = field(default_factory=Authenticator)  # the users' authenticator app

    @property
    def db(self):
        return self.runtime.db

    @property
    def security(self) -> SecurityConfig:
        return self.app.state.security

    def set_security(self, **changes) -> None:
        self.app.state.security = self.security.model_copy(update=changes)

    def add_user(self, username: str, role: str) -> None:
        user = Users(self.db, self.security).add(username, password_of(username), role)
        self.users[username] = user.id

    def token(self, username: str, scopes: list[str] | None = None) -> dict[str, str]:
        """Headers with a fresh bearer token of ``username``."""
        issued = create_session(self.db, self.users[username], self.security, kind="api", name="test", scopes=scopes)
        return {"Authorization": f"Bearer {issued.token}"}

    def add_camera(self, camera_id: str, group: str = "tunnel", **extra) -> None:
        fields = {"id": camera_id, "name": f"Camera {camera_id}", "group": group, "main_url": f"rtsp://10.0.0.9/{camera_id}"}
        fields.update(extra)
        CameraRegistry(self.db).add(CameraConfig(**fields))

    async def login(self, username: str, client: httpx.AsyncClient | None = None) -> str:
        """Sign in with the cookie (second factor and first enrolment included); returns the CSRF token."""
        answer = await sign_in(client or self.client, username, password_of(username), self.phone)
        return answer["csrf_token"]


def make_settings(data_dir: Path, **overrides) -> Settings:
    # Simulated cameras run on 127.0.0.1; vms denies loopback cameras unless told (test_attacks_probe).
    values = {"data_dir": data_dir, "storage": {"min_free": 0},
              "security": {"camera_addresses": {"allow": ["127.0.0.0/8"]}}}
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def api_system(
    data_dir: Path, roles: bool = True, client_ip: str = "10.20.30.40", **settings
) -> AsyncIterator[ApiSystem]:
    """The app without a stream worker; with ``roles``, one user per role named after it.

    Operators get the tunnel group by a role grant, as an admin would give it.
    """
    runtime = Runtime.build(make_settings(data_dir, **settings), with_worker=False)
    app = create_app(runtime)
    transport = httpx.ASGITransport(app=app, client=(client_ip, 50000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        system = ApiSystem(runtime, app, client)
        if roles:
            for role in ROLES:
                system.add_user(role, role)
            Users(system.db, system.security).add_grant("tunnel", ["live", "playback", "event.ack"], role="operator")
        try:
            yield system
        finally:
            app.state.exports.shutdown()
            runtime.stop()
