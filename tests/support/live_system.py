"""A whole vms process for live-view tests: runtime (worker, live hub) served by uvicorn."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from dashboard.app import create_app
from vmsapp.runtime import Runtime
from streams.live import LiveHub
from tests.support.server import ServedApp, serve_app
from tests.support.totp import Authenticator
from tests.support.whep_client import WhepViewer
from vms.auth.roles import Role
from vms.auth.sessions import create_session
from vms.auth.users import Users, random_password
from tests.support.system import make_settings

# Nothing listens on the discard port: ingest stays offline and tests feed the fan-out themselves.
NOWHERE = "rtsp://127.0.0.1:9/none"


ADMIN = "live-admin"


@dataclass
class LiveSystem:
    runtime: Runtime
    served: ServedApp
    auth: dict[str, str]  # bearer-token headers of an admin, who may watch every camera
    password: str
    phone: Authenticator = field(default_factory=Authenticator)  # the admin's authenticator app

    def viewer(self, camera_id: str, **options) -> WhepViewer:
        return WhepViewer(self.url, camera_id, headers=self.auth, **options)

    async def login(self, page) -> None:
        """Sign the browser page in with the session cookie, as a person would (an admin's first
        sign-in enrols two-factor with the test's authenticator; later ones send its code)."""
        body = {"username": ADMIN, "password": self.password}
        if ADMIN in self.phone.seeds:
            body["code"] = self.phone.code(ADMIN)
        response = await page.request.post(self.url + "/api/auth/login", data=body)
        assert response.ok, await response.text()
        answer = await response.json()
        if answer["two_factor_enrolment_required"]:
            csrf = {"X-CSRF-Token": answer["csrf_token"]}
            started = await page.request.post(self.url + "/api/auth/two-factor/enrolment", headers=csrf)
            assert started.ok, await started.text()
            self.phone.add(ADMIN, (await started.json())["secret"])
            confirmed = await page.request.post(self.url + "/api/auth/two-factor/confirm", headers=csrf,
                                                data={"code": self.phone.code(ADMIN)})
            assert confirmed.ok, await confirmed.text()

    @property
    def url(self) -> str:
        return self.served.url

    @property
    def hub(self) -> LiveHub:
        assert self.runtime.live is not None
        return self.runtime.live

    def fanout(self, camera_id: str, stream: str = "main"):
        return self.runtime.worker.pipeline(camera_id).fanout(stream)


def offline_camera(camera_id: str, **extra) -> dict:
    entry = {"id": camera_id, "name": f"Camera {camera_id}", "group": "tunnel", "main_url": NOWHERE}
    entry["recording"] = {"enabled": False}
    entry.update(extra)
    return entry


@contextmanager
def live_system(data_dir: Path, cameras: list[dict], live: dict | None = None, **overrides) -> Iterator[LiveSystem]:
    settings = make_settings(data_dir, cameras, live=live or {}, **overrides)
    runtime = Runtime.build(settings).start()
    try:
        app = create_app(runtime)
        password = random_password()
        user = Users(runtime.db, settings.security).add(ADMIN, password, Role.ADMIN)
        token = create_session(runtime.db, user.id, settings.security, kind="api", name="live tests").token
        with serve_app(app) as served:
            yield LiveSystem(runtime, served, {"Authorization": f"Bearer {token}"}, password)
    finally:
        runtime.stop()
