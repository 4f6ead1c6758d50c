"""A test's authenticator app: keeps each user's TOTP seed and gives a code not used before."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pyotp

from vms.auth.two_factor import VALID_WINDOW


@dataclass
class Authenticator:
    seeds: dict[str, str] = field(default_factory=dict)
    last_step: dict[str, int] = field(default_factory=dict)
    recovery: dict[str, list[str]] = field(default_factory=dict)

    def add(self, username: str, secret: str) -> None:
        self.seeds[username] = secret
        self.last_step.pop(username, None)

    def code(self, username: str) -> str:
        """The code of the oldest step still accepted that was not used yet (vms refuses a code twice).

        With one step either side accepted, three sign-ins fit in one 30-second step; a fourth
        waits for the clock to move on (a condition, not a fixed pause)."""
        totp = pyotp.TOTP(self.seeds[username])
        while True:
            current = int(time.time() // totp.interval)
            step = max(current - VALID_WINDOW, self.last_step.get(username, -1) + 1)
            if step <= current + VALID_WINDOW:
                self.last_step[username] = step
                return totp.at(step * totp.interval)
            time.sleep(0.2)


async def sign_in(client, username: str, password: str, phone: Authenticator) -> dict:
    """Sign in through the API as a person would: password, then the code if asked, and
    enrolment with the authenticator when the role needs it. Returns the login answer."""
    response = await client.post("/api/auth/login", json={"username": username, "password": password})
    if response.status_code == 401 and response.json()["type"] == "/problems/second-factor-required":
        response = await client.post(
            "/api/auth/login", json={"username": username, "password": password, "code": phone.code(username)}
        )
    assert response.status_code == 200, response.text
    answer = response.json()
    if answer.get("two_factor_enrolment_required"):
        await enrol(client, username, answer["csrf_token"], phone)
    return answer


async def enrol(client, username: str, csrf: str | None, phone: Authenticator, headers: dict | None = None) -> list[str]:
    headers = {**(headers or {}), **({"X-CSRF-Token": csrf} if csrf else {})}
    started = await client.post("/api/auth/two-factor/enrolment", headers=headers)
    assert started.status_code == 200, started.text
    phone.add(username, started.json()["secret"])
    confirmed = await client.post("/api/auth/two-factor/confirm", json={"code": phone.code(username)}, headers=headers)
    assert confirmed.status_code == 200, confirmed.text
    phone.recovery[username] = confirmed.json()["recovery_codes"]
    return phone.recovery[username]
