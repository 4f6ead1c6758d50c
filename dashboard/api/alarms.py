"""Alarms on the wall: the list and its live feed, take, close, the wall action; and the alarm rules.

Access: alarms are seen with ``event.view`` on the camera's group and handled (take, close,
wall action) with ``event.ack`` there; an alarm the user may not see answers 404. Rules are
read by anyone who sees alarms and written with ``alarm.rules`` (admins). Refusals carry a
code and its parameters (``params``) so the dashboard says them in the operator's language.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from dashboard.api.deps import get_runtime
from dashboard.api.sse import bus_stream
from dashboard.problems import Problem
from dashboard.services import Services
from dashboard.security import Principal, client_ip, require
from vms.alarms import (
    ALARMS_TOPIC, AlarmNotFound, AlarmQuery, AlarmRefused, AlarmRules, AlarmStore, RuleNotFound, RuleReadOnly,
    alarm_message,
)
from vms.alarms.states import MAX_COMMENT, OPEN_STATES
from vms.auth.audit import audit
from vms.auth.roles import Capability
from vms.config.alarms import AlarmRuleConfig, Priority, WallAction
from vms.db.alarms import AlarmRow

router = APIRouter(tags=["alarms"])

VIEW = require(Capability.EVENT_VIEW)
HANDLE = require(Capability.EVENT_ACK)
RULES = require(Capability.ALARM_RULES)
State = Literal["new", "in_progress", "closed"]


class AlarmStep(BaseModel):
    model_config = ConfigDict(extra="allow")
    at: str
    by: str
    action: str


class AlarmOut(BaseModel):
    id: int
    event_id: int
    rule_id: str
    camera_id: str
    group: str | None
    type: str
    zone: str | None
    priority: Priority
    instruction: str
    wall_action: WallAction | None
    state: State
    raised_at: str
    escalate_at: str | None
    escalated_at: str | None
    taken_by: str | None
    taken_at: str | None
    closed_by: str | None
    closed_at: str | None
    outcome: str | None
    comment: str | None
    snapshot: str | None
    history: list[AlarmStep]


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["real_incident", "false_alarm", "test"]
    comment: str = Field(max_length=MAX_COMMENT)


class RuleOut(AlarmRuleConfig):
    source: Literal["config", "api"]
    updated_by: str
    updated_at: str


def _store(runtime: Services = Depends(get_runtime)) -> AlarmStore:
    return AlarmStore(runtime.db)


def _may(user: Principal, group_id: str | None, capability: Capability) -> bool:
    return user.access.on_group(group_id, capability) if group_id is not None else user.access.all_groups


def is_supervisor(user: Principal, runtime: Services) -> bool:
    """Whether the user's role may take over and close alarms others took (``alarms.supervisor_roles``)."""
    return user.role.value in runtime.settings.alarms.supervisor_roles


def _refused(refusal: AlarmRefused) -> Problem:
    return Problem(409, refusal.code, f"{refusal.code}: {refusal.params}", params=refusal.params)


def _visible(store: AlarmStore, alarm_id: int, user: Principal, capability: Capability = Capability.EVENT_VIEW) -> AlarmRow:
    try:
        row = store.get(alarm_id)
    except AlarmNotFound:
        raise Problem(404, "alarm-not-found", f"alarm {alarm_id} does not exist", params={"id": alarm_id}) from None
    if not _may(user, row.group_id, Capability.EVENT_VIEW):
        raise Problem(404, "alarm-not-found", f"alarm {alarm_id} does not exist", params={"id": alarm_id})
    if not _may(user, row.group_id, capability):
        raise Problem(403, "not-allowed", f"your role ({user.role.value}) may not handle this alarm",
                      params={"reason": "capability", "role": user.role.value, "capability": capability.value})
    return row


def _groups(user: Principal) -> list[str] | None:
    visible = user.access.visible_groups()
    if visible is None:
        return None
    return sorted(g for g in visible if user.access.on_group(g, Capability.EVENT_VIEW))


def _publish(runtime: Services, message: dict) -> dict:
    if runtime.alarms is not None:
        runtime.alarms.publish(message)  # the bus, and the alarm webhooks when configured
    else:
        runtime.bus.publish(ALARMS_TOPIC, message)
    return message


def _step(runtime: Services, phase: str, step) -> dict:
    """Run one state change; a refusal becomes a 409 problem, a change is published."""
    try:
        row = step()
    except AlarmRefused as refusal:
        raise _refused(refusal) from None
    return _publish(runtime, alarm_message(row, phase))


@router.get("/alarms", response_model=list[AlarmOut])
def list_alarms(
    state: list[State] = Query([], description="states (repeat); default: new and in_progress"),
    camera: list[str] = Query([]),
    limit: int = Query(200, ge=1, le=1000),
    user: Principal = VIEW,
    store: AlarmStore = Depends(_store),
) -> list[dict]:
    """Alarms of the cameras you see, newest first; open ones unless ``state`` says otherwise."""
    query = AlarmQuery(states=list(state) or list(OPEN_STATES), groups=_groups(user), cameras=camera, limit=limit)
    return [alarm_message(row) for row in store.query(query)]


@router.get("/alarms/stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events, one alarm (AlarmOut) each"}})
async def stream_alarms(request: Request, user: Principal = VIEW, runtime: Services = Depends(get_runtime)) -> StreamingResponse:
    """Alarm changes as server-sent events: the alarm's JSON with ``phase`` "raised", "taken",
    "escalated" (with ``notify``: the roles to tell), "wall_action" or "closed"."""
    return bus_stream(request, runtime.bus, ALARMS_TOPIC, lambda m: _may(user, m.get("group"), Capability.EVENT_VIEW),
                      user_id=user.user.id)


@router.get("/alarms/{alarm_id}", response_model=AlarmOut)
def get_alarm(alarm_id: int, user: Principal = VIEW, store: AlarmStore = Depends(_store)) -> dict:
    return alarm_message(_visible(store, alarm_id, user))


@router.post("/alarms/{alarm_id}/take", response_model=AlarmOut)
def take_alarm(alarm_id: int, request: Request, user: Principal = HANDLE, store: AlarmStore = Depends(_store),
               runtime: Services = Depends(get_runtime)) -> dict:
    """Take the alarm: it is yours to handle (409 ``alarm-taken`` when someone else has it). A
    supervisor (``alarms.supervisor_roles``) takes over an alarm someone else has, audited as
    ``alarm.take_over`` with whose it was."""
    _visible(store, alarm_id, user, Capability.EVENT_ACK)
    supervisor = is_supervisor(user, runtime)
    return _step(runtime, "taken", lambda: store.take(alarm_id, user.username, user, client_ip(request), supervisor))


@router.post("/alarms/{alarm_id}/close", response_model=AlarmOut)
def close_alarm(alarm_id: int, body: CloseIn, request: Request, user: Principal = HANDLE,
                store: AlarmStore = Depends(_store), runtime: Services = Depends(get_runtime)) -> dict:
    """Close an alarm you took, with the outcome and a comment (both required); a supervisor
    may close anyone's (the audit entry then names who had taken it)."""
    _visible(store, alarm_id, user, Capability.EVENT_ACK)
    supervisor = is_supervisor(user, runtime)
    return _step(runtime, "closed", lambda: store.close(alarm_id, user.username, body.outcome, body.comment, supervisor,
                                                        user, client_ip(request)))


@router.post("/alarms/{alarm_id}/wall-action", response_model=AlarmOut)
def record_wall_action(alarm_id: int, body: WallAction, request: Request, user: Principal = HANDLE,
                       store: AlarmStore = Depends(_store), runtime: Services = Depends(get_runtime)) -> dict:
    """Note that your wall showed the alarm's camera (in a tile or full screen), for the alarm's history."""
    _visible(store, alarm_id, user, Capability.EVENT_ACK)
    row = store.record(alarm_id, user.username, "wall_action", body.model_dump(), user, client_ip(request))
    return _publish(runtime, alarm_message(row, "wall_action"))


# --- rules ------------------------------------------------------------------------------------


def _rule_out(rule: AlarmRuleConfig, row) -> dict:
    return {**rule.model_dump(), "source": row.source, "updated_by": row.updated_by,
            "updated_at": row.updated_at.isoformat()}


@router.get("/alarm-rules", response_model=list[RuleOut])
def list_rules(user: Principal = VIEW, runtime: Services = Depends(get_runtime)) -> list[dict]:
    """Every alarm rule; "config" ones come from the YAML file and change only there."""
    return [_rule_out(rule, row) for rule, row in AlarmRules(runtime.db).all()]


@router.put("/alarm-rules/{rule_id}", response_model=RuleOut)
def save_rule(rule_id: str, body: AlarmRuleConfig, request: Request, response: Response, user: Principal = RULES,
              runtime: Services = Depends(get_runtime)) -> dict:
    """Create or replace a rule (201 when new). Rules from the configuration file answer 409."""
    if body.id != rule_id:
        raise Problem(422, "rule-id-mismatch", f"the body's id '{body.id}' is not '{rule_id}'",
                      params={"id": body.id, "path": rule_id})
    rules = AlarmRules(runtime.db)
    try:
        _, created = rules.save(body, user.username)
    except RuleReadOnly:
        raise Problem(409, "rule-from-config", f"rule '{rule_id}' comes from the configuration file",
                      params={"id": rule_id}) from None
    audit(runtime.db, user, "alarm_rule.add" if created else "alarm_rule.edit", f"alarm_rule:{rule_id}",
          body.model_dump(mode="json"), client_ip(request))
    response.status_code = 201 if created else 200
    return _rule_out(*rules.get(rule_id))


@router.delete("/alarm-rules/{rule_id}", status_code=204, response_class=Response)
def delete_rule(rule_id: str, request: Request, user: Principal = RULES, runtime: Services = Depends(get_runtime)) -> Response:
    try:
        AlarmRules(runtime.db).delete(rule_id)
    except RuleNotFound:
        raise Problem(404, "rule-not-found", f"rule '{rule_id}' does not exist", params={"id": rule_id}) from None
    except RuleReadOnly:
        raise Problem(409, "rule-from-config", f"rule '{rule_id}' comes from the configuration file",
                      params={"id": rule_id}) from None
    audit(runtime.db, user, "alarm_rule.remove", f"alarm_rule:{rule_id}", {}, client_ip(request))
    return Response(status_code=204)
