"""Signing in: cookies and CSRF, bearer tokens, lockout, passwords, the first admin."""

from __future__ import annotations

from datetime import timedelta

import httpx
from argon2 import PasswordHasher
from sqlalchemy import select, update
from typer.testing import CliRunner

from tests.support.api import BASE_URL, api_system, password_of
from vms.auth.users import ensure_demo_admin
from vmsapp.cli import app as cli
from vms.config.security import LockoutConfig
from vms.db.auth import AddressThrottle, AuditEntry, SessionRow, UserRow
from vms.db.types import utcnow


def _actions(db) -> list[str]:
    with db.session() as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


async def test_cookie_session_is_http_only_strict_and_secure_and_needs_csrf(tmp_path):
    async with api_system(tmp_path) as system:
        response = await system.client.post("/api/auth/login", json={"username": "operator", "password": password_of("operator")})
        assert response.status_code == 200
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "secure" in cookie and "samesite=strict" in cookie
        csrf = response.json()["csrf_token"]
        assert "token" not in response.json()
        me = await system.client.get("/api/auth/me")
        assert me.status_code == 200 and me.json()["user"]["role"] == "operator"
        assert me.json()["csrf_token"] == csrf and me.json()["groups"] == ["tunnel"]
        assert me.json()["playback_lookback_minutes"] == 30
        # Unsafe methods with the cookie need the CSRF token in a header.
        missing = await system.client.post("/api/auth/tokens", json={"name": "x"})
        assert missing.status_code == 403 and missing.json()["type"] == "/problems/csrf-token-missing"
        wrong = await system.client.post("/api/auth/tokens", json={"name": "x"}, headers={"X-CSRF-Token": "nope"})
        assert wrong.status_code == 403
        made = await system.client.post("/api/auth/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf})
        assert made.status_code == 201
        # Logging out ends the session.
        assert (await system.client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})).status_code == 204
        system.client.cookies.clear()
        assert (await system.client.get("/api/auth/me")).status_code == 401
        assert _actions(system.db) == ["login.ok", "token.create", "logout"]


async def test_bearer_tokens_need_no_csrf_and_set_no_cookie(tmp_path):
    async with api_system(tmp_path) as system:
        response = await system.client.post(
            "/api/auth/login", json={"username": "technician", "password": password_of("technician"), "bearer": True}
        )
        assert response.status_code == 200 and "set-cookie" not in response.headers
        token = response.json()["token"]
        assert token.startswith("vms_")
        headers = {"Authorization": f"Bearer {token}"}
        made = await system.client.post("/api/auth/tokens", json={"name": "prometheus", "scopes": ["metrics.read"]}, headers=headers)
        assert made.status_code == 201
        # Only the token's hash is stored.
        with system.db.session() as session:
            hashes = list(session.scalars(select(SessionRow.token_hash)))
        assert token not in hashes and made.json()["token"] not in hashes
        bad = await system.client.get("/api/auth/me", headers={"Authorization": "Bearer vms_forged"})
        assert bad.status_code == 401 and bad.headers["www-authenticate"].startswith("Bearer")


async def test_five_failures_lock_the_user_even_with_the_right_password_then(tmp_path):
    async with api_system(tmp_path) as system:
        for _ in range(5):
            response = await system.client.post("/api/auth/login", json={"username": "operator", "password": "wrong-Password-1"})
            assert response.status_code == 401
            assert response.json()["detail"] == "wrong username or password"
        locked = await system.client.post("/api/auth/login", json={"username": "operator", "password": password_of("operator")})
        assert locked.status_code == 429 and 250 <= int(locked.headers["retry-after"]) <= 300
        # An unknown username locks the same way: the answers do not tell which names exist.
        for _ in range(5):
            assert (await system.client.post("/api/auth/login", json={"username": "ghost", "password": "x"})).status_code == 401
        assert (await system.client.post("/api/auth/login", json={"username": "ghost", "password": "x"})).status_code == 429
        # Other users are not affected; the lock ends when its time is over.
        assert (await system.client.post("/api/auth/login", json={"username": "admin", "password": password_of("admin")})).status_code == 200
        with system.db.session() as session:
            session.execute(update(AddressThrottle).values(locked_until=utcnow() - timedelta(seconds=1)))
        assert (await system.client.post("/api/auth/login", json={"username": "operator", "password": password_of("operator")})).status_code == 200
        actions = _actions(system.db)
        assert actions.count("login.failed") == 10 and actions.count("login.locked") == 2
        assert actions.count("login.lockout") == 2


async def test_many_failures_from_one_address_lock_that_address(tmp_path):
    async with api_system(tmp_path) as system:
        system.set_security(lockout=LockoutConfig(max_failures=100, ip_max_failures=4))
        for name in ("a1", "b2", "c3", "d4"):
            await system.client.post("/api/auth/login", json={"username": name, "password": "nope"})
        blocked = await system.client.post("/api/auth/login", json={"username": "admin", "password": password_of("admin")})
        assert blocked.status_code == 429
        elsewhere = httpx.ASGITransport(app=system.app, client=("10.99.0.1", 4000))
        async with httpx.AsyncClient(transport=elsewhere, base_url=BASE_URL) as other:
            ok = await other.post("/api/auth/login", json={"username": "admin", "password": password_of("admin")})
            assert ok.status_code == 200


async def test_password_change_checks_old_and_new_and_ends_other_sessions(tmp_path):
    async with api_system(tmp_path) as system:
        mine, other = system.token("investigator"), system.token("investigator")
        wrong = await system.client.post("/api/auth/password", json={"old_password": "nope", "new_password": "Brand-New-Pass-42"}, headers=mine)
        assert wrong.status_code == 400
        # Each refusal names its reason as a code with parameters, for the dashboard's own words.
        for weak, reason in (("short1A!", {"reason": "too-short", "min": 10}), ("aaaaaaaaaaaaaaaa", {"reason": "too-common"}),
                             ("lowercase12", {"reason": "too-common"}),  # zxcvbn: no composition rules (issue 13)
                             ("investigator-Pass-1", {"reason": "contains-username"})):
            response = await system.client.post(
                "/api/auth/password", json={"old_password": password_of("investigator"), "new_password": weak}, headers=mine
            )
            assert response.status_code == 422, weak
            assert response.json()["type"] == "/problems/weak-password"
            assert response.json()["params"] == reason
        good = await system.client.post(
            "/api/auth/password", json={"old_password": password_of("investigator"), "new_password": "Brand-New-Pass-42"}, headers=mine
        )
        assert good.status_code == 204
        assert (await system.client.get("/api/auth/me", headers=mine)).status_code == 200
        assert (await system.client.get("/api/auth/me", headers=other)).status_code == 401
        login = await system.client.post("/api/auth/login", json={"username": "investigator", "password": "Brand-New-Pass-42"})
        assert login.status_code == 200


async def test_an_outdated_hash_is_replaced_at_sign_in(tmp_path):
    async with api_system(tmp_path) as system:
        weak_hash = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(password_of("operator"))
        with system.db.session() as session:
            session.execute(update(UserRow).where(UserRow.username == "operator").values(password_hash=weak_hash))
        response = await system.client.post("/api/auth/login", json={"username": "operator", "password": password_of("operator")})
        assert response.status_code == 200
        with system.db.session() as session:
            stored = session.scalar(select(UserRow.password_hash).where(UserRow.username == "operator"))
        assert stored != weak_hash and not PasswordHasher().check_needs_rehash(stored)


async def test_sessions_end_when_idle_or_user_disabled(tmp_path):
    async with api_system(tmp_path) as system:
        await system.login("operator")
        with system.db.session() as session:
            session.execute(update(SessionRow).values(last_seen_at=utcnow() - timedelta(hours=3)))
        assert (await system.client.get("/api/auth/me")).status_code == 401
        token = system.token("technician")
        admin = system.token("admin")
        assert (await system.client.patch("/api/users/technician", json={"disabled": True}, headers=admin)).status_code == 200
        assert (await system.client.get("/api/auth/me", headers=token)).status_code == 401
        refused = await system.client.post("/api/auth/login", json={"username": "technician", "password": password_of("technician")})
        assert refused.status_code == 401
        last_admin = await system.client.patch("/api/users/admin", json={"role": "operator"}, headers=admin)
        assert last_admin.status_code == 409


async def test_there_is_no_default_password(tmp_path):
    async with api_system(tmp_path, roles=False) as system:
        for password in ("admin", "password", "", "vms"):
            response = await system.client.post("/api/auth/login", json={"username": "admin", "password": password or "x"})
            assert response.status_code == 401
        username, password = ensure_demo_admin(system.db)
        assert username == "admin" and len(password) >= 20
        assert ensure_demo_admin(system.db) is None
        assert (await system.client.post("/api/auth/login", json={"username": "admin", "password": password})).status_code == 200


def test_cli_adds_users_and_refuses_weak_passwords(tmp_path, monkeypatch):
    monkeypatch.setenv("VMS_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    weak = runner.invoke(cli, ["user", "add", "chief", "--role", "admin", "--password-stdin"], input="admin123\n")
    assert weak.exit_code == 2 and "refused" in weak.output
    ok = runner.invoke(cli, ["user", "add", "chief", "--role", "admin", "--password-stdin"], input="Solid-Passw0rd-here\n")
    assert ok.exit_code == 0, ok.output
    assert "Solid-Passw0rd-here" not in ok.output
    again = runner.invoke(cli, ["user", "add", "chief", "--role", "admin", "--password-stdin"], input="Solid-Passw0rd-here\n")
    assert again.exit_code == 2 and "already exists" in again.output
    bad_role = runner.invoke(cli, ["user", "add", "x1", "--role", "root", "--password-stdin"], input="Solid-Passw0rd-here\n")
    assert bad_role.exit_code == 2
    prompted = runner.invoke(cli, ["user", "add", "op1", "--role", "operator"], input="Another-Pass-99\nAnother-Pass-99\n")
    assert prompted.exit_code == 0, prompted.output
    token = runner.invoke(cli, ["user", "token", "chief", "--name", "prometheus", "--scope", "metrics.read"])
    assert token.exit_code == 0 and token.output.strip().startswith("vms_")
    grant = runner.invoke(cli, ["user", "grant", "gateway", "live,playback", "--user", "op1"])
    assert grant.exit_code == 0, grant.output
    listed = runner.invoke(cli, ["user", "list"])
    assert "chief" in listed.output and "op1" in listed.output


def test_expired_sessions_are_purged_by_the_periodic_purge(db):
    import time

    from vms.auth.sessions import SessionPurge, create_session
    from vms.auth.users import Users
    from vms.config.security import SecurityConfig
    from vms.db.auth import SessionRow
    from vms.db.types import utcnow

    config = SecurityConfig()
    user = Users(db, config).add("operator1", "correct horse battery staple 42", "operator")
    old = create_session(db, user.id, config)
    kept = create_session(db, user.id, config, kind="api", name="prometheus")  # never expires
    with db.session() as session:
        session.execute(update(SessionRow).where(SessionRow.id == old.id).values(expires_at=utcnow() - timedelta(hours=1)))
    purge = SessionPurge(db, interval=60).start()  # the first pass runs at once
    try:
        deadline = time.monotonic() + 10
        while purge.purged == 0:
            assert time.monotonic() < deadline, "the purge did not run"
            time.sleep(0.05)
    finally:
        purge.stop()
    with db.session() as session:
        assert set(session.scalars(select(SessionRow.id))) == {kept.id}
