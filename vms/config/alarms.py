"""Typed configuration of alarms: the rules that turn events into alarms, and escalation.

A rule matches an event by type and camera group (an empty list matches any). Rules from the
YAML file are kept in step with the database at start-up and are read-only through the API;
rules added through the API or the admin screen live in the database only.
"""

from __future__ import annotations

from typing import Literal

from pydantic_core import PydanticCustomError
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from vms.config.cameras import ID_PATTERN, no_repeats
from vms.config.detection import EVENT_TYPES, WebhookConfig

# Lowest first; escalation moves an alarm one step up (critical stays critical).
PRIORITIES = ("low", "medium", "high", "critical")
Priority = Literal["low", "medium", "high", "critical"]


def raised(priority: str) -> str:
    """The next priority up: what escalation gives an alarm nobody took in time."""
    index = PRIORITIES.index(priority)
    return PRIORITIES[min(index + 1, len(PRIORITIES) - 1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WallAction(_Strict):
    """What the operator's wall does with the alarm's camera when the alarm is taken."""

    # "tile": put the camera in tile ``tile`` (0 = top left, reading order); "popup": full screen.
    mode: Literal["tile", "popup"]
    tile: int = Field(default=0, ge=0, le=15)


class AlarmRuleConfig(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    name: str = Field(default="", max_length=200)
    event_types: list[str] = Field(default_factory=list)  # empty: every type
    groups: list[str] = Field(default_factory=list)  # empty: every camera group
    priority: Priority = "medium"
    # The standard operating procedure shown to the operator, e.g. "close lane 2, call 1022".
    instruction: str = Field(default="", max_length=4000)
    # An alarm still untaken after this long escalates; None: never.
    escalate_after_seconds: float | None = Field(default=120, gt=0, le=86400)
    wall_action: WallAction | None = None
    enabled: bool = True

    @field_validator("event_types")
    @classmethod
    def _types(cls, types: list[str]) -> list[str]:
        unknown = sorted(set(types) - set(EVENT_TYPES))
        if unknown:
            raise PydanticCustomError("unknown_event_types", "unknown event types {unknown} (known: {known})",
                                      {"unknown": ", ".join(unknown), "known": ", ".join(EVENT_TYPES)})
        return types

    @property
    def specificity(self) -> int:
        """How narrow the rule is: one naming both a group and a type wins over a catch-all."""
        return 2 * bool(self.groups) + bool(self.event_types)


class AlarmsConfig(_Strict):
    enabled: bool = True
    rules: list[AlarmRuleConfig] = Field(default_factory=list)
    # How often the escalation task looks for overdue alarms.
    escalation_check_seconds: float = Field(default=1.0, gt=0, le=60)
    # Roles told about an escalation on the dashboard (the alarm feed marks them), and who may
    # take over or close an alarm another operator took (audited with whose it was).
    supervisor_roles: list[str] = Field(default_factory=lambda: ["admin"])
    # Receivers of escalations (and of raised alarms when ``webhook_on_raise``), signed like event webhooks.
    webhooks: list[WebhookConfig] = Field(default_factory=list)
    webhook_on_raise: bool = False

    @model_validator(mode="after")
    def _unique(self) -> "AlarmsConfig":
        no_repeats("alarm rule", [rule.id for rule in self.rules])
        return self
