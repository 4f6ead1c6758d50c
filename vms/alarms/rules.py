"""Alarm rules: kept in the database, seeded from the YAML file, matched against events.

The rule for an event is the most specific enabled one (naming both a camera group and an
event type beats naming one, which beats a catch-all); among equals the higher priority,
then the smaller id, wins. No matching rule: the event raises no alarm.
"""

from __future__ import annotations

from sqlalchemy import delete, select

from vms.config.alarms import PRIORITIES, AlarmRuleConfig
from vms.db import Database
from vms.db.alarms import AlarmRuleRow


class RuleNotFound(LookupError):
    pass


class RuleReadOnly(Exception):
    """The rule comes from the configuration file; change it there."""


def rule_of(row: AlarmRuleRow) -> AlarmRuleConfig:
    return AlarmRuleConfig.model_validate({
        "id": row.id, "name": row.name, "event_types": list(row.event_types or []), "groups": list(row.groups or []),
        "priority": row.priority, "instruction": row.instruction, "escalate_after_seconds": row.escalate_after_seconds,
        "wall_action": row.wall_action, "enabled": row.enabled,
    })


def _fill(row: AlarmRuleRow, rule: AlarmRuleConfig) -> None:
    row.name, row.event_types, row.groups = rule.name, list(rule.event_types), list(rule.groups)
    row.priority, row.instruction = rule.priority, rule.instruction
    row.escalate_after_seconds = rule.escalate_after_seconds
    row.wall_action = rule.wall_action.model_dump() if rule.wall_action else None
    row.enabled = rule.enabled


class AlarmRules:
    def __init__(self, db: Database) -> None:
        self.db = db

    def sync_from_config(self, rules: list[AlarmRuleConfig]) -> None:
        """Make the "config" rows equal the file's rules; rules made through the API are untouched."""
        wanted = {rule.id: rule for rule in rules}
        with self.db.session() as session:
            for row in session.scalars(select(AlarmRuleRow).where(AlarmRuleRow.source == "config")):
                if row.id not in wanted:
                    session.delete(row)
            for rule in rules:
                found = session.get(AlarmRuleRow, rule.id)
                row = found if found is not None else AlarmRuleRow(id=rule.id)
                if found is None:
                    session.add(row)
                _fill(row, rule)
                row.source, row.updated_by = "config", "config"

    def all(self) -> list[tuple[AlarmRuleConfig, AlarmRuleRow]]:
        with self.db.session() as session:
            rows = list(session.scalars(select(AlarmRuleRow).order_by(AlarmRuleRow.id)))
        return [(rule_of(row), row) for row in rows]

    def get(self, rule_id: str) -> tuple[AlarmRuleConfig, AlarmRuleRow]:
        with self.db.session() as session:
            row = session.get(AlarmRuleRow, rule_id)
        if row is None:
            raise RuleNotFound(rule_id)
        return rule_of(row), row

    def save(self, rule: AlarmRuleConfig, by: str) -> tuple[AlarmRuleRow, bool]:
        """Create or replace an API rule; returns the row and whether it was new."""
        with self.db.session() as session:
            row = session.get(AlarmRuleRow, rule.id)
            created = row is None
            if row is None:
                row = AlarmRuleRow(id=rule.id, source="api")
                session.add(row)
            elif row.source == "config":
                raise RuleReadOnly(rule.id)
            _fill(row, rule)
            row.updated_by = by
            session.flush()
            return row, created

    def delete(self, rule_id: str) -> None:
        with self.db.session() as session:
            row = session.get(AlarmRuleRow, rule_id)
            if row is None:
                raise RuleNotFound(rule_id)
            if row.source == "config":
                raise RuleReadOnly(rule_id)
            session.execute(delete(AlarmRuleRow).where(AlarmRuleRow.id == rule_id))

    def match(self, event_type: str, group_id: str | None) -> AlarmRuleConfig | None:
        candidates = [
            rule for rule, _ in self.all()
            if rule.enabled
            and (not rule.event_types or event_type in rule.event_types)
            and (not rule.groups or (group_id is not None and group_id in rule.groups))
        ]
        if not candidates:
            return None
        return min(candidates, key=lambda r: (-r.specificity, -PRIORITIES.index(r.priority), r.id))
