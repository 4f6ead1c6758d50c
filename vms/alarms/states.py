"""The alarm's life: new → in progress (taken by a named operator) → closed (comment + outcome).

Refusals are ``AlarmRefused`` with a code and parameters, never prose, so every client can
say them in its own language (the dashboard translates ``problem.<code>``).
"""

from __future__ import annotations

from enum import Enum


class AlarmState(str, Enum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"


class Outcome(str, Enum):
    REAL_INCIDENT = "real_incident"
    FALSE_ALARM = "false_alarm"
    TEST = "test"


OPEN_STATES = (AlarmState.NEW.value, AlarmState.IN_PROGRESS.value)
MAX_COMMENT = 4000


class AlarmRefused(Exception):
    """A step the alarm's state does not allow. ``code`` names it; ``params`` fill the message."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(f"{code} {params}")
        self.code = code
        self.params = params


def check_take(state: str, taken_by: str | None, username: str, supervisor: bool = False) -> None:
    """Taking is allowed once, from new; taking your own alarm again is harmless. A supervisor
    (``alarms.supervisor_roles``) may take over an alarm someone else is handling."""
    if state == AlarmState.NEW.value:
        return
    if state == AlarmState.IN_PROGRESS.value and (taken_by == username or supervisor):
        return
    if state == AlarmState.IN_PROGRESS.value:
        raise AlarmRefused("alarm-taken", user=taken_by)
    raise AlarmRefused("alarm-closed")


def check_close(state: str, taken_by: str | None, username: str, supervisor: bool, comment: str, outcome: str) -> None:
    """Closing needs the alarm in progress, by whoever took it (or a supervisor), with a comment."""
    if state == AlarmState.CLOSED.value:
        raise AlarmRefused("alarm-closed")
    if state != AlarmState.IN_PROGRESS.value:
        raise AlarmRefused("alarm-not-taken")
    if taken_by != username and not supervisor:
        raise AlarmRefused("alarm-taken", user=taken_by)
    if not comment.strip():
        raise AlarmRefused("alarm-comment-required")
    if len(comment) > MAX_COMMENT:
        raise AlarmRefused("alarm-comment-too-long", max=MAX_COMMENT)
    if outcome not in {o.value for o in Outcome}:
        raise AlarmRefused("alarm-bad-outcome", outcome=outcome)
