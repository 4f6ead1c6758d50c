"""Attacks on input handling (issue 13): each test makes the attack, then checks the right answer.

Rows covered: huge ids, SDP with a NUL byte, grants to unknown groups, audit CSV injection,
log injection, guessable passwords, narrowed tokens.
"""

from __future__ import annotations

import csv
import io
import logging

import pytest

from tests.support.api import api_system
from vms.auth.audit import audit, audit_csv, query_audit, AuditQuery
from vms.auth.passwords import WeakPassword, check_strength
from vms.logs import configure_logging

HUGE = "99999999999999999999999"


async def test_huge_ids_and_offsets_answer_404_or_422_not_500(tmp_path):
    async with api_system(tmp_path) as system:
        admin = system.token("admin")
        calls = [
            ("GET", f"/api/events/{HUGE}"), ("POST", f"/api/events/{HUGE}/ack"),
            ("GET", f"/api/events/{HUGE}/snapshot.jpg"), ("DELETE", f"/api/layouts/{HUGE}"),
            ("DELETE", f"/api/grants/{HUGE}"), ("GET", f"/api/events?offset={HUGE}"),
            ("GET", f"/api/audit?offset={HUGE}"), ("GET", f"/api/events?limit={HUGE}"),
            ("DELETE", f"/api/events/{HUGE}/ack"),
        ]
        for method, path in calls:
            response = await system.client.request(method, path, headers=admin)
            assert response.status_code in (404, 405, 422), (method, path, response.status_code)
            assert response.headers["content-type"] == "application/problem+json"


async def test_an_sdp_offer_with_a_nul_byte_is_a_bad_offer(tmp_path):
    async with api_system(tmp_path) as system:
        system.add_camera("tun-1")
        offer = b"v=0\r\no=- 0 0 IN IP4 0.0.0.0\x00\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
        headers = {**system.token("operator"), "Content-Type": "application/sdp"}
        response = await system.client.post("/api/cameras/tun-1/whep", content=offer, headers=headers)
        assert response.status_code == 400 and response.json()["type"] == "/problems/bad-offer"
        not_utf8 = await system.client.post("/api/cameras/tun-1/whep", content=b"v=0\r\n\xff\xfe", headers=headers)
        assert not_utf8.status_code == 400 and not_utf8.json()["type"] == "/problems/bad-offer"


async def test_a_grant_to_a_group_that_does_not_exist_is_refused(tmp_path):
    async with api_system(tmp_path) as system:
        admin = system.token("admin")
        ghost = {"role": "operator", "group": "no-such-group", "capabilities": ["live"]}
        response = await system.client.post("/api/grants", json=ghost, headers=admin)
        assert response.status_code == 422 and "no-such-group" in response.json()["detail"]
        real = {"role": "operator", "group": "gateway", "capabilities": ["live"]}
        assert (await system.client.post("/api/grants", json=real, headers=admin)).status_code == 201


@pytest.mark.parametrize("cell", [" =1+1", "\n=1+1", "\r\n@SUM(A1)", "\t+cmd", " \t-2+3", "=1", "\u00a0=1"])
def test_audit_csv_neutralises_formulas_behind_blanks(db, cell):
    audit(db, cell, "login.failed", cell, {}, "")
    rows = list(csv.DictReader(io.StringIO(audit_csv(query_audit(db, AuditQuery())))))
    for column in ("username", "target"):
        assert rows[0][column].startswith("'"), (column, rows[0][column])
        assert rows[0][column][1:] == cell


async def test_a_username_with_a_newline_cannot_forge_a_log_line(tmp_path, capsys):
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging()
    try:
        async with api_system(tmp_path) as system:
            forged = "nobody\n2026-01-01 00:00:00,000 INFO vms.audit: audit admin login.ok from 10.0.0.1"
            await system.client.post("/api/auth/login", json={"username": forged, "password": "x"})
            audit(system.db, "x\r\x1b[2Jy", "login.failed", "t\u2028u", {}, "")
    finally:
        root.handlers[:], root.level = saved
    err = capsys.readouterr().err
    assert "nobody\\n2026-01-01" in err
    assert not any(line.startswith("2026-01-01 00:00:00,000") for line in err.splitlines())
    assert "x\\r\\x1b[2Jy" in err and "t\\u2028u" in err


@pytest.mark.parametrize("password", ["Password1!", "P@ssw0rd12", "Matkhau@123", "1234567890123456",
                                      "Matkhau2026!", "HoChiMinh@2026", "ThuThiem@123", "Admin@12345"])
def test_common_and_guessable_passwords_are_refused(password):
    with pytest.raises(WeakPassword):
        check_strength(password, "duty1")


@pytest.mark.parametrize("password", ["Correct-Horse-7-Battery-5", "tunnel lamps hum at dusk", "q8#Lr2!vWz9p"])
def test_strong_passwords_pass(password):
    check_strength(password, "duty1")


async def test_weak_passwords_are_refused_by_the_api_in_plain_words(tmp_path):
    async with api_system(tmp_path) as system:
        user = {"username": "duty1", "role": "operator", "password": "Matkhau@123"}
        response = await system.client.post("/api/users", json=user, headers=system.token("admin"))
        assert response.status_code == 422 and response.json()["type"] == "/problems/weak-password"
        assert "Matkhau@123" not in response.text


async def test_a_narrowed_token_cannot_manage_its_owners_account(tmp_path):
    async with api_system(tmp_path) as system:
        full = system.token("operator")
        other = (await system.client.post("/api/auth/tokens", json={"name": "other"}, headers=full)).json()
        viewing = system.token("operator", scopes=["live"])
        attacks = [
            ("DELETE", f"/api/auth/tokens/{other['id']}", None),
            ("POST", "/api/auth/password", {"old_password": "x" * 12, "new_password": "Another-Long-Phrase-9"}),
            ("POST", "/api/auth/tokens", {"name": "wider"}),
            ("GET", "/api/auth/tokens", None),
            ("PUT", "/api/layouts", {"name": "w", "tiles": 1, "cameras": []}),
        ]
        for method, path, body in attacks:
            response = await system.client.request(method, path, headers=viewing, json=body)
            assert response.status_code == 403, (method, path, response.status_code)
        # The token still does what it was made for, and the full token still manages the account.
        assert (await system.client.get("/api/auth/me", headers=viewing)).status_code == 200
        assert (await system.client.delete(f"/api/auth/tokens/{other['id']}", headers=full)).status_code == 204
