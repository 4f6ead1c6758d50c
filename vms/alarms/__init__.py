"""Alarms: events an operator must handle, raised by rules, taken, closed and escalated."""

from vms.alarms.rules import AlarmRules, RuleNotFound, RuleReadOnly
from vms.alarms.service import ALARMS_TOPIC, AlarmService
from vms.alarms.states import AlarmRefused, AlarmState, Outcome
from vms.alarms.store import AlarmNotFound, AlarmQuery, AlarmStore, alarm_message

__all__ = [
    "ALARMS_TOPIC", "AlarmNotFound", "AlarmQuery", "AlarmRefused", "AlarmRules", "AlarmService", "AlarmState",
    "AlarmStore", "Outcome", "RuleNotFound", "RuleReadOnly", "alarm_message",
]
