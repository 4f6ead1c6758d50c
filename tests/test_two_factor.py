"""Two-factor sign-in (TOTP, RFC 6238): required for admins and investigators by default, enrolled
at the first sign-in, recovery codes, replay refused, everything audited."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
from sqlalchemy import select

from tests.support.api import api_system, password_of
from tests.support.totp import Authenticator, enrol
from vms.db.auth import AuditEntry, TwoFactorRow


def _actions(db, prefix: str = "two_factor") -> list[str]:
    with db.session() as session:
        return list(session.scalars(select(AuditEntry.action).where(AuditEntry.action.startswith(prefix)).order_by(AuditEntry.id)))


async def _password_login(client, username: str, **extra):
    return await client.post("/api/auth/login", json={"username": username, "password": password_of(username), **extra})


async def test_first_sign_in_of_an_admin_can_only_enrol_then_everything_works(tmp_path):
    async with api_system(tmp_path) as system:
        answer = await _password_login(system.client, "admin")
        assert answer.status_code == 200 and answer.json()["two_factor_enrolment_required"] is True
        csrf = {"X-CSRF-Token": answer.json()["csrf_token"]}
        blocked = await system.client.get("/api/cameras")
        assert blocked.status_code == 403 and blocked.json()["type"] == "/problems/two-factor-enrolment-required"
        assert (await system.client.post("/api/auth/tokens", json={"name": "x"}, headers=csrf)).status_code == 403
        me = (await system.client.get("/api/auth/me")).json()
        assert me["two_factor"] == {"enabled": False, "required": True, "enrolment_required": True}

        early = await system.client.post("/api/auth/two-factor/confirm", json={"code": "000000"}, headers=csrf)
        assert early.status_code == 409 and early.json()["type"] == "/problems/two-factor-not-enrolling"
        started = await system.client.post("/api/auth/two-factor/enrolment", headers=csrf)
        assert started.status_code == 200 and started.headers["cache-control"] == "no-store"
        enrolment = started.json()
        uri = urlsplit(enrolment["otpauth_uri"])
        assert uri.scheme == "otpauth" and uri.netloc == "totp" and "admin" in unquote(uri.path)
        assert parse_qs(uri.query)["secret"] == [enrolment["secret"]] and parse_qs(uri.query)["issuer"] == ["vms"]
        # The QR code is an SVG made by the server itself (no third-party QR service sees the seed).
        assert enrolment["qr_svg"].startswith("data:image/svg+xml")
        svg = unquote(enrolment["qr_svg"].split(",", 1)[1])
        assert svg.lstrip().startswith("<svg") or "<svg" in svg[:200]
        base64.b32decode(enrolment["secret"])

        wrong = await system.client.post("/api/auth/two-factor/confirm", json={"code": "000000"}, headers=csrf)
        assert wrong.status_code == 400 and wrong.json()["type"] == "/problems/bad-code"
        code = pyotp.TOTP(enrolment["secret"]).now()
        confirmed = await system.client.post("/api/auth/two-factor/confirm", json={"code": code}, headers=csrf)
        assert confirmed.status_code == 200
        codes = confirmed.json()["recovery_codes"]
        assert len(codes) == 10 and len(set(codes)) == 10
        assert (await system.client.get("/api/cameras")).status_code == 200  # the same session is now a full one
        # Stored: the seed sealed or not, but never the recovery codes themselves.
        with system.db.session() as session:
            row = session.scalar(select(TwoFactorRow))
            assert not any(c in str(row.recovery_hashes) for c in codes)
        assert _actions(system.db) == ["two_factor.confirm.failed", "two_factor.enrol", "two_factor.confirm.failed",
                                       "two_factor.enable"]
        assert enrolment["secret"] not in str([e for e in _all_audit(system.db)])


def _all_audit(db):
    with db.session() as session:
        return [(e.action, e.target, e.detail) for e in session.scalars(select(AuditEntry))]


async def test_signing_in_needs_the_code_once_enrolled_and_a_code_works_only_once(tmp_path):
    async with api_system(tmp_path) as system:
        phone = system.phone
        await system.login("investigator")  # enrols with the authenticator
        system.client.cookies.clear()
        missing = await _password_login(system.client, "investigator")
        assert missing.status_code == 401 and missing.json()["type"] == "/problems/second-factor-required"
        assert "set-cookie" not in missing.headers
        wrong = await _password_login(system.client, "investigator", code="123456")
        assert wrong.status_code == 401 and wrong.json()["type"] == "/problems/bad-credentials"
        code = phone.code("investigator")
        assert (await _password_login(system.client, "investigator", code=code)).status_code == 200
        replayed = await _password_login(system.client, "investigator", code=code)
        assert replayed.status_code == 401  # RFC 6238 5.2: a code is accepted once
        # A recovery code (any case, with or without the dash) works once.
        recovery = phone.recovery["investigator"][0]
        assert (await _password_login(system.client, "investigator", code=recovery.upper())).status_code == 200
        assert (await _password_login(system.client, "investigator", code=recovery)).status_code == 401
        status = (await system.client.get("/api/auth/two-factor")).json()
        assert status["enabled"] is True and status["recovery_codes_left"] == 9
        with system.db.session() as session:
            logins = [e.detail for e in session.scalars(select(AuditEntry).where(AuditEntry.action == "login.ok"))]
        assert [d["second_factor"] for d in logins] == [None, "totp", "recovery"]
        assert {"reason": "wrong second factor"} in [e[2] for e in _all_audit(system.db) if e[0] == "login.failed"]


async def test_roles_without_the_requirement_sign_in_at_once_and_may_opt_in(tmp_path):
    async with api_system(tmp_path) as system:
        answer = await _password_login(system.client, "operator")
        assert answer.json()["two_factor_enrolment_required"] is False
        csrf = answer.json()["csrf_token"]
        assert (await system.client.get("/api/cameras")).status_code == 200
        phone = Authenticator()
        await enrol(system.client, "operator", csrf, phone)
        system.client.cookies.clear()
        assert (await _password_login(system.client, "operator")).status_code == 401
        again = await _password_login(system.client, "operator", code=phone.code("operator"))
        off = await system.client.post("/api/auth/two-factor/disable", json={"code": phone.code("operator")},
                                       headers={"X-CSRF-Token": again.json()["csrf_token"]})
        assert off.status_code == 204
        system.client.cookies.clear()
        assert (await _password_login(system.client, "operator")).status_code == 200
        assert _actions(system.db)[-1] == "two_factor.disable"


async def test_required_roles_cannot_turn_it_off_and_an_admin_resets_a_lost_phone(tmp_path):
    async with api_system(tmp_path) as system:
        csrf = await system.login("investigator")
        off = await system.client.post("/api/auth/two-factor/disable", json={"code": system.phone.code("investigator")},
                                       headers={"X-CSRF-Token": csrf})
        assert off.status_code == 409
        # A script cannot sidestep enrolment with a bearer sign-in.
        bearer = await _password_login(system.client, "admin", bearer=True)
        assert bearer.status_code == 403 and bearer.json()["type"] == "/problems/two-factor-enrolment-required"
        reset = await system.client.patch("/api/users/investigator", json={"reset_two_factor": True},
                                          headers=system.token("admin"))
        assert reset.status_code == 200
        assert (await system.client.get("/api/auth/me")).status_code == 401  # the investigator's sessions ended
        again = await _password_login(system.client, "investigator")
        assert again.status_code == 200 and again.json()["two_factor_enrolment_required"] is True
        with system.db.session() as session:
            entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "user.update")).one()
        assert entry.target == "investigator" and entry.detail["reset_two_factor"] is True


async def test_two_factor_can_be_switched_off_by_setting(tmp_path):
    async with api_system(tmp_path, security={"two_factor": {"required_roles": []}}) as system:
        answer = await _password_login(system.client, "admin")
        assert answer.json()["two_factor_enrolment_required"] is False
        assert (await system.client.get("/api/users")).status_code == 200


def test_the_cli_resets_a_lost_phone(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from vms.auth.two_factor import TwoFactor
    from vms.auth.users import Users
    from vmsapp.cli import app as cli
    from vmsapp.cli import open_database

    monkeypatch.setenv("VMS_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    assert runner.invoke(cli, ["user", "add", "chief", "--role", "admin", "--password-stdin"],
                         input="Solid-Passw0rd-here\n").exit_code == 0
    _, db = open_database(None)
    chief = Users(db).get("chief")
    TwoFactor(db).begin(chief.id, "chief")
    reset = runner.invoke(cli, ["user", "reset-two-factor", "chief"])
    assert reset.exit_code == 0 and "reset" in reset.output
    assert TwoFactor(db).status(chief.id).enabled is False and TwoFactor(db).status(chief.id).enrolling is False
    assert runner.invoke(cli, ["user", "reset-two-factor", "nobody"]).exit_code == 2
