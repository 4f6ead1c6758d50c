"""Alarm rows: raise one per event, take, close, escalate; every step in the history and the audit log.

Steps are conditional updates (``UPDATE … WHERE state = …``), so two operators clicking "take"
at once, or two processes escalating the same alarm, leave exactly one winner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Result, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vms.alarms.states import AlarmRefused, AlarmState, check_close, check_take
from vms.auth.audit import Actor, audit
from vms.config.alarms import AlarmRuleConfig, raised
from vms.db import Database
from vms.db.alarms import AlarmRow
from vms.db.types import utcnow

SYSTEM = "system"


class AlarmNotFound(LookupError):
    pass


def _rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE changed (0: another process or operator got there first)."""
    return int(cast(CursorResult[Any], result).rowcount)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def alarm_message(row: AlarmRow, phase: str | None = None) -> dict[str, Any]:
    """The alarm as the API, the bus and webhooks show it (times ISO 8601 UTC)."""
    message: dict[str, Any] = {
        "id": row.id,
        "event_id": row.event_id,
        "rule_id": row.rule_id,
        "camera_id": row.camera_id,
        "group": row.group_id,
        "type": row.type,
        "zone": row.zone,
        "priority": row.priority,
        "instruction": row.instruction,
        "wall_action": row.wall_action,
        "state": row.state,
        "raised_at": _iso(row.raised_at),
        "escalate_at": _iso(row.escalate_at),
        "escalated_at": _iso(row.escalated_at),
        "taken_by": row.taken_by,
        "taken_at": _iso(row.taken_at),
        "closed_by": row.closed_by,
        "closed_at": _iso(row.closed_at),
        "outcome": row.outcome,
        "comment": row.comment,
        "snapshot": f"/api/events/{row.event_id}/snapshot.jpg" if row.has_snapshot else None,
        "history": list(row.history or []),
    }
    if phase is not None:
        message["phase"] = phase
    return message


@dataclass
class AlarmQuery:
    states: list[str] = field(default_factory=list)
    groups: list[str] | None = None  # None: every group; []: none
    cameras: list[str] = field(default_factory=list)
    limit: int = 200


class AlarmStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def raise_for_event(self, event: dict[str, Any], rule: AlarmRuleConfig, now: datetime | None = None) -> AlarmRow | None:
        """The alarm of an event message (``vms.events.event_message``); None if it already has one."""
        now = now or utcnow()
        row = AlarmRow(
            event_id=int(event["id"]), rule_id=rule.id, camera_id=event["camera_id"], group_id=event.get("group"),
            type=event["type"], zone=event.get("zone"), priority=rule.priority, instruction=rule.instruction,
            wall_action=rule.wall_action.model_dump() if rule.wall_action else None, state=AlarmState.NEW.value,
            raised_at=now, has_snapshot=bool(event.get("snapshot")),
            escalate_at=now + timedelta(seconds=rule.escalate_after_seconds) if rule.escalate_after_seconds else None,
            history=[{"at": now.isoformat(), "by": SYSTEM, "action": "raise", "rule": rule.id, "priority": rule.priority}],
        )
        try:
            with self.db.session() as session:
                session.add(row)
                session.flush()
        except IntegrityError:
            return None  # another process raised it first
        audit(self.db, SYSTEM, "alarm.raise", f"alarm:{row.id}",
              {"event": row.event_id, "camera": row.camera_id, "type": row.type, "rule": rule.id, "priority": row.priority})
        return row

    def get(self, alarm_id: int) -> AlarmRow:
        with self.db.session() as session:
            row = session.get(AlarmRow, alarm_id)
        if row is None:
            raise AlarmNotFound(alarm_id)
        return row

    def query(self, query: AlarmQuery) -> list[AlarmRow]:
        statement = select(AlarmRow)
        if query.states:
            statement = statement.where(AlarmRow.state.in_(query.states))
        if query.groups is not None:
            statement = statement.where(AlarmRow.group_id.in_(query.groups))
        if query.cameras:
            statement = statement.where(AlarmRow.camera_id.in_(query.cameras))
        statement = statement.order_by(AlarmRow.raised_at.desc(), AlarmRow.id.desc()).limit(query.limit)
        with self.db.session() as session:
            return list(session.scalars(statement))

    def take(self, alarm_id: int, username: str, actor: Actor | None = None, client_ip: str = "",
             supervisor: bool = False) -> AlarmRow:
        """new → in progress, by ``username``; AlarmRefused when someone else has it or it is closed.

        A ``supervisor`` takes over an alarm in progress with someone else: the history step is
        ``take_over`` and the audit entry ``alarm.take_over``, both naming who had it (``taken_from``)."""
        now = utcnow()
        with self.db.session() as session:
            row = self._locked(session, alarm_id)
            check_take(row.state, row.taken_by, username, supervisor)
            if row.state == AlarmState.IN_PROGRESS.value and row.taken_by == username:
                return row  # already yours
            previous = row.taken_by if row.state == AlarmState.IN_PROGRESS.value else None
            # Conditional on the state seen: of two people taking (or taking over) at once, one wins.
            seen = (AlarmRow.state == AlarmState.NEW.value if previous is None
                    else (AlarmRow.state == AlarmState.IN_PROGRESS.value) & (AlarmRow.taken_by == previous))
            done = _rowcount(session.execute(
                update(AlarmRow).where(AlarmRow.id == alarm_id, seen)
                .values(state=AlarmState.IN_PROGRESS.value, taken_by=username, taken_at=now)
            ))
            session.refresh(row)
            if not done:
                check_take(row.state, row.taken_by, username)  # someone was faster: say who
                return row
            step: dict[str, Any] = {"at": now.isoformat(), "by": username, "action": "take"}
            if previous is not None:
                step.update(action="take_over", taken_from=previous)
            row.history = [*row.history, step]
        detail: dict[str, Any] = {"camera": row.camera_id}
        if previous is not None:
            detail["taken_from"] = previous
        audit(self.db, actor or username, "alarm.take_over" if previous else "alarm.take", f"alarm:{alarm_id}", detail,
              client_ip)
        return row

    def close(self, alarm_id: int, username: str, outcome: str, comment: str, supervisor: bool = False,
              actor: Actor | None = None, client_ip: str = "") -> AlarmRow:
        """in progress → closed with an outcome and a comment; AlarmRefused otherwise. Only the
        one who took it closes it, or a ``supervisor`` (then the history and audit say ``taken_by``)."""
        now = utcnow()
        with self.db.session() as session:
            row = self._locked(session, alarm_id)
            check_close(row.state, row.taken_by, username, supervisor, comment, outcome)
            taken_by = row.taken_by
            done = _rowcount(session.execute(
                update(AlarmRow).where(AlarmRow.id == alarm_id, AlarmRow.state == AlarmState.IN_PROGRESS.value)
                .values(state=AlarmState.CLOSED.value, closed_by=username, closed_at=now, outcome=outcome,
                        comment=comment.strip())
            ))
            session.refresh(row)
            if not done:
                raise AlarmRefused("alarm-closed")
            step: dict[str, Any] = {"at": now.isoformat(), "by": username, "action": "close", "outcome": outcome}
            detail: dict[str, Any] = {"camera": row.camera_id, "outcome": outcome, "comment": comment.strip()}
            if taken_by != username:  # a supervisor closed someone else's alarm: say whose
                step["taken_by"] = detail["taken_by"] = taken_by
            row.history = [*row.history, step]
        audit(self.db, actor or username, "alarm.close", f"alarm:{alarm_id}", detail, client_ip)
        return row

    def escalate_due(self, now: datetime | None = None) -> list[AlarmRow]:
        """Escalate every new alarm past its time limit (once each); returns those escalated here."""
        now = now or utcnow()
        with self.db.session() as session:
            due = list(session.scalars(select(AlarmRow.id).where(
                AlarmRow.state == AlarmState.NEW.value, AlarmRow.escalated_at.is_(None), AlarmRow.escalate_at <= now)))
        escalated = []
        for alarm_id in due:
            with self.db.session() as session:
                row = session.get(AlarmRow, alarm_id)
                if row is None:
                    continue
                before = row.priority
                done = _rowcount(session.execute(
                    update(AlarmRow).where(AlarmRow.id == alarm_id, AlarmRow.state == AlarmState.NEW.value,
                                           AlarmRow.escalated_at.is_(None))
                    .values(escalated_at=now, priority=raised(before))
                ))
                if not done:
                    continue
                session.refresh(row)
                row.history = [*row.history, {"at": now.isoformat(), "by": SYSTEM, "action": "escalate",
                                              "from": before, "priority": row.priority}]
            audit(self.db, SYSTEM, "alarm.escalate", f"alarm:{alarm_id}",
                  {"camera": row.camera_id, "from": before, "priority": row.priority})
            escalated.append(row)
        return escalated

    def record(self, alarm_id: int, username: str, action: str, detail: dict[str, Any], actor: Actor | None = None, client_ip: str = "") -> AlarmRow:
        """A step that changes no state (the wall action shown) in the history and the audit log."""
        now = utcnow()
        with self.db.session() as session:
            row = self._locked(session, alarm_id)
            row.history = [*row.history, {"at": now.isoformat(), "by": username, "action": action, **detail}]
        audit(self.db, actor or username, f"alarm.{action}", f"alarm:{alarm_id}", {"camera": row.camera_id, **detail},
              client_ip)
        return row

    @staticmethod
    def _locked(session: Session, alarm_id: int) -> AlarmRow:
        row = session.get(AlarmRow, alarm_id, with_for_update=True)
        if row is None:
            raise AlarmNotFound(alarm_id)
        return row
