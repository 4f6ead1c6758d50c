"""Alarms through the real app: rules raise them from events, operators take and close them,
escalation fires on untaken ones (webhook + bus), every step lands in the audit log."""

from __future__ import annotations

import json
import threading
import time

import pytest

from tests.support.api import api_system
from tests.support.webhook_receiver import receiving
from vms.alarms import ALARMS_TOPIC, AlarmQuery, AlarmRules
from vms.auth.audit import AuditQuery, query_audit
from vms.config.alarms import AlarmRuleConfig
from vms.config.detection import EventsConfig
from vms.events import EventRecorder
from vms.db.types import utcnow
from vms.events.webhooks import verify

SOP = "Đóng làn 2, gọi đường dây nóng 1022 và 113"
RULES = [
    {"id": "tunnel-stop", "event_types": ["stopped_vehicle"], "groups": ["tunnel"], "priority": "high",
     "instruction": SOP, "escalate_after_seconds": 0.8, "wall_action": {"mode": "tile", "tile": 2}},
    {"id": "any-stop", "event_types": ["stopped_vehicle"], "priority": "low", "escalate_after_seconds": None},
    {"id": "tamper", "event_types": ["tamper_covered"], "priority": "medium"},
]


@pytest.fixture
async def system(tmp_path):
    with receiving() as hook:
        alarms = {"rules": RULES, "escalation_check_seconds": 0.1,
                  "webhooks": [{"url": hook.url, "secret": "s3cret", "backoff_initial_seconds": 0.1}]}
        async with api_system(tmp_path, alarms=alarms) as system:
            system.add_camera("t-01", "tunnel")
            system.add_camera("r-01", "rented")
            system.recorder = EventRecorder(system.db, system.runtime.bus, tmp_path, EventsConfig())
            system.hook = hook
            system.heard = []
            system.runtime.bus.add_listener(ALARMS_TOPIC, lambda topic, m: system.heard.append(m))
            system.runtime.alarms.start()
            yield system


def wait_for(predicate, what: str, timeout: float = 10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def alarms_of(system, user: str, **params) -> list[dict]:
    response = await system.client.get("/api/alarms", params=params, headers=system.token(user))
    assert response.status_code == 200, response.text
    return response.json()


def test_the_most_specific_rule_wins(tmp_path):
    from vms.db import Database

    db = Database(f"sqlite:///{tmp_path / 'r.db'}")
    db.create_schema()
    rules = AlarmRules(db)
    rules.sync_from_config([AlarmRuleConfig(**r) for r in RULES])
    assert rules.match("stopped_vehicle", "tunnel").id == "tunnel-stop"
    assert rules.match("stopped_vehicle", "rented").id == "any-stop"
    assert rules.match("motion", "tunnel") is None
    rules.save(AlarmRuleConfig(id="all-tunnel", groups=["tunnel"], priority="critical"), "admin")
    assert rules.match("stopped_vehicle", "tunnel").id == "tunnel-stop"  # group + type beats group only
    assert rules.match("motion", "tunnel").id == "all-tunnel"
    rules.sync_from_config([])  # the file's rules went away; the API's rule stays
    assert [rule.id for rule, _ in rules.all()] == ["all-tunnel"]


async def test_an_event_raises_one_alarm_that_is_taken_and_closed_with_every_step_audited(system):
    event_id = system.recorder.open("t-01", "stopped_vehicle", time.time(), zone="lane-2", snapshot=b"\xff\xd8jpeg")
    raised = wait_for(lambda: [m for m in system.heard if m["phase"] == "raised"], "the alarm")
    [alarm] = await alarms_of(system, "operator")
    assert alarm["id"] == raised[0]["id"] and alarm["event_id"] == event_id
    assert (alarm["rule_id"], alarm["priority"], alarm["instruction"], alarm["state"]) == ("tunnel-stop", "high", SOP, "new")
    assert alarm["wall_action"] == {"mode": "tile", "tile": 2}
    assert alarm["snapshot"] == f"/api/events/{event_id}/snapshot.jpg" and alarm["zone"] == "lane-2"
    # The same event heard again (another process, a replay) raises nothing more.
    assert system.runtime.alarms.handle_event({**raised[0], "id": event_id, "phase": "start", "group": "tunnel"}) is None

    path = f"/api/alarms/{alarm['id']}"
    not_taken = await system.client.post(path + "/close", json={"outcome": "test", "comment": "x"}, headers=system.token("operator"))
    assert not_taken.status_code == 409 and not_taken.json()["type"] == "/problems/alarm-not-taken"
    taken = await system.client.post(path + "/take", headers=system.token("operator"))
    assert taken.status_code == 200 and taken.json()["taken_by"] == "operator" and taken.json()["state"] == "in_progress"
    system.add_user("operator2", "operator")
    clash = await system.client.post(path + "/take", headers=system.token("operator2"))
    assert clash.status_code == 409
    assert clash.json()["type"] == "/problems/alarm-taken" and clash.json()["params"] == {"user": "operator"}
    blank = await system.client.post(path + "/close", json={"outcome": "real_incident", "comment": "  "},
                                     headers=system.token("operator"))
    assert blank.status_code == 409 and blank.json()["type"] == "/problems/alarm-comment-required"
    wrong = await system.client.post(path + "/close", json={"outcome": "maybe", "comment": "x"}, headers=system.token("operator"))
    assert wrong.status_code == 422
    action = await system.client.post(path + "/wall-action", json={"mode": "tile", "tile": 2}, headers=system.token("operator"))
    assert action.status_code == 200
    closed = await system.client.post(path + "/close", json={"outcome": "real_incident", "comment": "Xe chết máy, đã kéo đi"},
                                      headers=system.token("operator"))
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert (body["state"], body["closed_by"], body["outcome"], body["comment"]) == (
        "closed", "operator", "real_incident", "Xe chết máy, đã kéo đi")
    assert [step["action"] for step in body["history"]] == ["raise", "take", "wall_action", "close"]
    assert await alarms_of(system, "operator") == []  # no longer open
    assert [a["id"] for a in await alarms_of(system, "operator", state="closed")] == [alarm["id"]]
    entries = query_audit(system.db, AuditQuery(target=f"alarm:{alarm['id']}"))
    assert [(e.action, e.username) for e in reversed(entries)] == [
        ("alarm.raise", "system"), ("alarm.take", "operator"), ("alarm.wall_action", "operator"), ("alarm.close", "operator")]
    assert entries[0].detail["comment"] == "Xe chết máy, đã kéo đi"
    assert [m["phase"] for m in system.heard] == ["raised", "taken", "wall_action", "closed"]
    # A taken alarm never escalates.
    assert not [m for m in system.heard if m["phase"] == "escalated"]


async def test_an_untaken_alarm_escalates_once_to_supervisors_and_the_webhook(system):
    started = time.monotonic()
    system.recorder.open("t-01", "stopped_vehicle", time.time())
    escalated = wait_for(lambda: [m for m in system.heard if m["phase"] == "escalated"], "the escalation")
    assert time.monotonic() - started >= 0.8
    assert escalated[0]["priority"] == "critical" and escalated[0]["notify"] == ["admin"]  # high → critical
    [delivery] = system.hook.wait(1)
    assert verify(delivery["body"], "s3cret", delivery["headers"]["X-VMS-Signature"])
    sent = json.loads(delivery["body"])
    assert (sent["phase"], sent["id"], sent["priority"]) == ("escalated", escalated[0]["id"], "critical")
    rounds = system.runtime.alarms.rounds
    wait_for(lambda: system.runtime.alarms.rounds >= rounds + 3, "three more escalation rounds")  # still one escalation
    assert len([m for m in system.heard if m["phase"] == "escalated"]) == 1
    [alarm] = await alarms_of(system, "admin")
    assert alarm["escalated_at"] and [s["action"] for s in alarm["history"]] == ["raise", "escalate"]
    assert [e.action for e in query_audit(system.db, AuditQuery(action="alarm.escalate"))] == ["alarm.escalate"]


async def test_operators_see_and_handle_only_their_groups_alarms(system):
    system.recorder.open("r-01", "tamper_covered", time.time())
    [alarm] = wait_for(lambda: [m for m in system.heard if m["phase"] == "raised"], "the alarm")
    assert await alarms_of(system, "operator") == []
    response = await system.client.post(f"/api/alarms/{alarm['id']}/take", headers=system.token("operator"))
    assert response.status_code == 404  # like an alarm that does not exist
    investigator = await system.client.post(f"/api/alarms/{alarm['id']}/take", headers=system.token("investigator"))
    assert investigator.status_code == 403
    # camera_online never raises an alarm, whatever rule would match it.
    system.recorder.instant("r-01", "camera_online", time.time())
    rounds = system.runtime.alarms.rounds
    wait_for(lambda: system.runtime.alarms.rounds >= rounds + 2, "the service to handle the event")
    assert len([m for m in system.heard if m["phase"] == "raised"]) == 1


async def test_rules_through_the_api(system):
    rule = {"id": "wrong-way", "event_types": ["wrong_way"], "groups": ["tunnel"], "priority": "critical",
            "instruction": "Báo 113", "escalate_after_seconds": 60, "wall_action": {"mode": "popup", "tile": 0}}
    made = await system.client.put("/api/alarm-rules/wrong-way", json=rule, headers=system.token("admin"))
    assert made.status_code == 201, made.text
    assert made.json()["source"] == "api" and made.json()["updated_by"] == "admin"
    again = await system.client.put("/api/alarm-rules/wrong-way", json={**rule, "priority": "high"}, headers=system.token("admin"))
    assert again.status_code == 200 and again.json()["priority"] == "high"
    assert (await system.client.put("/api/alarm-rules/wrong-way", json=rule, headers=system.token("operator"))).status_code == 403
    from_file = await system.client.put("/api/alarm-rules/tamper", json={"id": "tamper"}, headers=system.token("admin"))
    assert from_file.status_code == 409 and from_file.json()["params"] == {"id": "tamper"}
    bad = await system.client.put("/api/alarm-rules/x", json={"id": "x", "event_types": ["fire"]}, headers=system.token("admin"))
    assert bad.status_code == 422
    odd = await system.client.put("/api/alarm-rules/x", json={"id": "Hầm 1"}, headers=system.token("admin"))
    [error] = odd.json()["errors"]  # a code and its limits for the dashboard's own words, never the value sent
    assert (error["where"], error["code"]) == ("body.id", "string_pattern_mismatch") and "pattern" in error["params"]
    assert "Hầm 1" not in odd.text
    listed = await system.client.get("/api/alarm-rules", headers=system.token("operator"))
    assert [r["id"] for r in listed.json()] == ["any-stop", "tamper", "tunnel-stop", "wrong-way"]
    system.recorder.open("t-01", "wrong_way", time.time())
    [alarm] = wait_for(lambda: [m for m in system.heard if m["phase"] == "raised"], "the alarm")
    assert (alarm["rule_id"], alarm["wall_action"]["mode"]) == ("wrong-way", "popup")
    assert (await system.client.delete("/api/alarm-rules/wrong-way", headers=system.token("admin"))).status_code == 204
    actions = [e.action for e in query_audit(system.db, AuditQuery(action="alarm_rule."))]
    assert actions == ["alarm_rule.remove", "alarm_rule.edit", "alarm_rule.add"]


def test_concurrent_takes_have_one_winner(tmp_path):
    from vms.alarms import AlarmRefused, AlarmStore
    from vms.db import Database

    db = Database(f"sqlite:///{tmp_path / 'c.db'}")
    db.create_schema()
    store = AlarmStore(db)
    row = store.raise_for_event({"id": 1, "camera_id": "t-01", "group": "tunnel", "type": "stopped_vehicle"},
                                AlarmRuleConfig(id="r"))
    results: dict[str, str] = {}

    def take(user: str) -> None:
        try:
            store.take(row.id, user)
            results[user] = "won"
        except AlarmRefused as refusal:
            results[user] = refusal.code

    threads = [threading.Thread(target=take, args=(f"op{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results.values()) == ["alarm-taken"] * 5 + ["won"]
    assert store.get(row.id).taken_by == [u for u, r in results.items() if r == "won"][0]


def test_two_processes_on_postgresql_raise_and_escalate_once(tmp_path):
    """Scale-out: every process runs an alarm service; PostgreSQL's constraints keep each step single."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.support.cluster import postgres_admin_url, throwaway_database
    from vms.alarms import AlarmService, AlarmStore
    from vms.bus.memory import MemoryBus
    from vms.config.alarms import AlarmsConfig
    from vms.db import Database

    admin = postgres_admin_url()
    if admin is None:
        pytest.skip("PostgreSQL not reachable")
    with throwaway_database(admin) as url:
        databases = [Database(url) for _ in range(2)]
        databases[0].create_schema()
        config = AlarmsConfig(rules=[AlarmRuleConfig(id="r", event_types=["wrong_way"], escalate_after_seconds=0.2)])
        AlarmRules(databases[0]).sync_from_config(config.rules)
        services = [AlarmService(db, MemoryBus(), config) for db in databases]
        heard = [[], []]
        for service, log in zip(services, heard):
            service.bus.add_listener(ALARMS_TOPIC, lambda topic, m, log=log: log.append(m["phase"]))
        try:
            events = [{"id": n, "phase": "start", "camera_id": "t-01", "group": "tunnel", "type": "wrong_way"} for n in range(1, 21)]
            with ThreadPoolExecutor(4) as pool:  # both processes hear every event at the same time
                list(pool.map(lambda pair: pair[0].handle_event(pair[1]), [(s, e) for e in events for s in services]))
            assert heard[0].count("raised") + heard[1].count("raised") == 20
            due = max(row.escalate_at for row in AlarmStore(databases[0]).query(AlarmQuery(limit=100)))
            wait_for(lambda: utcnow() >= due, "the alarms' time limit")
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(lambda s: s.escalate(), services + services))
            assert heard[0].count("escalated") + heard[1].count("escalated") == 20
            rows = AlarmStore(databases[0]).query(AlarmQuery(states=["new"], limit=100))
            assert len(rows) == 20 and all(len([s for s in r.history if s["action"] == "escalate"]) == 1 for r in rows)
        finally:
            for db in databases:
                db.dispose()


async def test_a_supervisor_takes_over_and_closes_an_alarm_another_operator_took(system):
    """Operators handle only the alarms they took; a supervisor (alarms.supervisor_roles: admin)
    takes over or closes anyone's, and the audit says whose it was."""
    system.recorder.open("t-01", "stopped_vehicle", time.time())
    [alarm] = wait_for(lambda: [m for m in system.heard if m["phase"] == "raised"], "the alarm")
    path = f"/api/alarms/{alarm['id']}"
    system.add_user("operator2", "operator")
    assert (await system.client.post(path + "/take", headers=system.token("operator"))).status_code == 200
    me = await system.client.get("/api/auth/me", headers=system.token("admin"))
    assert me.json()["alarm_supervisor"] is True
    assert (await system.client.get("/api/auth/me", headers=system.token("operator"))).json()["alarm_supervisor"] is False
    # Another operator may neither close it nor take it over.
    close = {"outcome": "false_alarm", "comment": "Bóng đèn hắt"}
    refused = await system.client.post(path + "/close", json=close, headers=system.token("operator2"))
    assert refused.status_code == 409 and refused.json()["params"] == {"user": "operator"}
    refused = await system.client.post(path + "/take", headers=system.token("operator2"))
    assert refused.status_code == 409 and refused.json()["type"] == "/problems/alarm-taken"
    # The supervisor takes it over: it is theirs now, and the operator may no longer close it.
    over = await system.client.post(path + "/take", headers=system.token("admin"))
    assert over.status_code == 200, over.text
    assert over.json()["taken_by"] == "admin"
    assert over.json()["history"][-1] == {**over.json()["history"][-1], "action": "take_over", "by": "admin",
                                          "taken_from": "operator"}
    refused = await system.client.post(path + "/close", json=close, headers=system.token("operator"))
    assert refused.status_code == 409 and refused.json()["params"] == {"user": "admin"}
    closed = await system.client.post(path + "/close", json=close, headers=system.token("admin"))
    assert closed.status_code == 200 and closed.json()["closed_by"] == "admin"
    entries = query_audit(system.db, AuditQuery(target=f"alarm:{alarm['id']}"))
    [taken_over] = [e for e in entries if e.action == "alarm.take_over"]
    assert (taken_over.username, taken_over.detail["taken_from"]) == ("admin", "operator")

    # A supervisor may also close an alarm straight away while an operator has it.
    system.recorder.open("t-01", "stopped_vehicle", time.time() + 1)
    [second] = wait_for(lambda: [m for m in system.heard if m["phase"] == "raised" and m["id"] != alarm["id"]],
                        "the second alarm")
    second_path = f"/api/alarms/{second['id']}"
    assert (await system.client.post(second_path + "/take", headers=system.token("operator2"))).status_code == 200
    closed = await system.client.post(second_path + "/close", json=close, headers=system.token("admin"))
    assert closed.status_code == 200, closed.text
    assert closed.json()["history"][-1]["taken_by"] == "operator2"
    [entry] = query_audit(system.db, AuditQuery(target=f"alarm:{second['id']}", action="alarm.close"))
    assert (entry.username, entry.detail["taken_by"]) == ("admin", "operator2")
