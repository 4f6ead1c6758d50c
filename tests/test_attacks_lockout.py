"""Lockout as a weapon (issue 13): failed sign-ins from one place must not lock the only admin out.

Throttling is per (user, address) with a growing delay, plus a per-user lock that spares the
addresses a user signed in from before and anyone with the right second factor. Lockouts are audited.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from sqlalchemy import select, update

from tests.support.api import BASE_URL, api_system, password_of
from vms.db.auth import AddressThrottle, AuditEntry
from vms.db.types import utcnow

ATTACKER = "203.0.113.66"


@asynccontextmanager
async def client_at(system, address: str):
    transport = httpx.ASGITransport(app=system.app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client


async def _guess(client, username: str = "admin"):
    return await client.post("/api/auth/login", json={"username": username, "password": "Wrong-Guess-12345"})


def _lockouts(db) -> list[dict]:
    with db.session() as session:
        return [e.detail for e in session.scalars(select(AuditEntry).where(AuditEntry.action == "login.lockout"))]


def _expire_locks(db) -> None:
    with db.session() as session:
        session.execute(update(AddressThrottle).values(locked_until=utcnow() - timedelta(seconds=1)))


async def test_an_attacker_locks_only_themselves_with_a_growing_delay(tmp_path):
    async with api_system(tmp_path, security={"two_factor": {"required_roles": []}}) as system:
        async with client_at(system, ATTACKER) as attacker:
            for _ in range(5):
                assert (await _guess(attacker)).status_code == 401
            first = await _guess(attacker)
            assert first.status_code == 429 and 250 <= int(first.headers["retry-after"]) <= 300
            # The admin, at the command centre, is not locked out by it.
            assert (await system.client.post("/api/auth/login",
                                              json={"username": "admin", "password": password_of("admin")})).status_code == 200
            # Five more every time the lock ends: each lock lasts twice as long as the one before.
            _expire_locks(system.db)
            for _ in range(5):
                await _guess(attacker)
            second = await _guess(attacker)
            assert second.status_code == 429 and 550 <= int(second.headers["retry-after"]) <= 600
            _expire_locks(system.db)
            for _ in range(5):
                await _guess(attacker)
            assert 1150 <= int((await _guess(attacker)).headers["retry-after"]) <= 1200
        assert [(d["scope"], d["minutes"], d["address"]) for d in _lockouts(system.db)] == [
            ("user-address", 5, ATTACKER), ("user-address", 10, ATTACKER), ("user-address", 20, ATTACKER)
        ]


async def test_a_user_locked_from_everywhere_still_signs_in_from_a_known_address_or_with_the_code(tmp_path):
    async with api_system(tmp_path) as system:
        system.set_security(lockout=system.security.lockout.model_copy(update={"user_max_failures": 8}))
        await system.login("admin")  # from the command centre: a known address from now on, two-factor set up
        system.client.cookies.clear()
        for number in range(8):  # a botnet: every guess from another address
            async with client_at(system, f"198.51.100.{number + 1}") as bot:
                assert (await _guess(bot)).status_code == 401
        assert ("user", 5, "198.51.100.8") in [(d["scope"], d["minutes"], d["address"]) for d in _lockouts(system.db)]
        async with client_at(system, "192.0.2.200") as stranger:
            refused = await stranger.post("/api/auth/login", json={"username": "admin", "password": password_of("admin")})
            assert refused.status_code == 429
            # From the known address password and code are enough, lock or not.
            await system.login("admin")
            assert (await system.client.get("/api/users")).status_code == 200
            # With the second factor the real admin gets in even from a new address; the lock stays for others.
            with_code = await stranger.post("/api/auth/login", json={
                "username": "admin", "password": password_of("admin"), "code": system.phone.code("admin")})
            assert with_code.status_code == 200, with_code.text
        async with client_at(system, "192.0.2.201") as another:
            assert (await _guess(another)).status_code == 429


async def test_a_lock_never_lets_a_wrong_second_factor_through(tmp_path):
    async with api_system(tmp_path) as system:
        await system.login("admin")
        system.client.cookies.clear()
        async with client_at(system, ATTACKER) as attacker:
            for _ in range(5):
                await _guess(attacker)
            guessed = await attacker.post("/api/auth/login", json={
                "username": "admin", "password": password_of("admin"), "code": "123456"})
            assert guessed.status_code == 429


async def test_guessing_names_from_the_command_centre_address_does_not_lock_its_known_users_out(tmp_path):
    async with api_system(tmp_path, security={"two_factor": {"required_roles": []}}) as system:
        system.set_security(lockout=system.security.lockout.model_copy(update={"ip_max_failures": 6}))
        await system.login("operator")  # the operator works here: a known address from now on
        system.client.cookies.clear()
        for name in ("a1", "b2", "c3", "d4", "e5", "f6"):  # someone behind the same NAT sprays names
            assert (await _guess(system.client, name)).status_code == 401
        assert ("address", 5, "10.20.30.40") in [(d["scope"], d["minutes"], d["address"]) for d in _lockouts(system.db)]
        assert (await _guess(system.client, "admin")).status_code == 429  # unknown here: the address lock holds
        assert (await system.client.post("/api/auth/login", json={
            "username": "operator", "password": password_of("operator")})).status_code == 200
