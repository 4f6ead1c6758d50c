"""Raise alarms from events and escalate the ones nobody takes, in one background thread.

The service hears every event on the bus topic ``events`` and raises an alarm for a starting
event that an enabled rule matches. Several processes may run it (scale-out): the alarm's
unique event id and the conditional updates of ``AlarmStore`` make each step happen once.
Every change is published on the bus topic ``alarms`` (the dashboard's live feed); an
escalation also names the roles to notify and goes to the alarm webhooks.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any, Callable

from vms.alarms.rules import AlarmRules
from vms.alarms.store import AlarmStore, alarm_message
from vms.bus import Bus
from vms.config.alarms import AlarmsConfig
from vms.db import Database
from vms.events.webhooks import WebhookDispatcher

log = logging.getLogger(__name__)

ALARMS_TOPIC = "alarms"
EVENTS_TOPIC = "events"  # the topic EventRecorder publishes on
# Events that raise nothing however rules are written: the end of an outage is not an incident.
NEVER_ALARM = frozenset({"camera_online"})


class AlarmService:
    def __init__(self, db: Database, bus: Bus, config: AlarmsConfig, webhooks: WebhookDispatcher | None = None) -> None:
        self.db = db
        self.bus = bus
        self.config = config
        self.rules = AlarmRules(db)
        self.store = AlarmStore(db)
        self.webhooks = webhooks or WebhookDispatcher(config.webhooks)
        self._events: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=10_000)
        self._stop = threading.Event()
        self._remove: Callable[[], None] | None = None
        self.rounds = 0  # passes of the background loop (each handles what was queued, then escalates)
        self._thread = threading.Thread(target=self._run, name="alarms", daemon=True)

    def start(self) -> "AlarmService":
        self.webhooks.start()
        self._remove = self.bus.add_listener(EVENTS_TOPIC, self._heard)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._remove is not None:
            self._remove()
        if self._thread.is_alive():
            self._thread.join(10)
        self.webhooks.stop()

    def publish(self, message: dict[str, Any]) -> None:
        """Tell dashboards (and, for escalations or when configured, webhooks) about an alarm change."""
        self.bus.publish(ALARMS_TOPIC, message)
        if message.get("phase") == "escalated" or (self.config.webhook_on_raise and message.get("phase") == "raised"):
            self.webhooks.submit(message)

    def handle_event(self, event: dict[str, Any]) -> dict[str, Any] | None:
        """Raise the alarm of one event message, if a rule wants one; returns the published message."""
        if event.get("phase") != "start" or event.get("type") in NEVER_ALARM or event.get("id") is None:
            return None
        rule = self.rules.match(event["type"], event.get("group"))
        if rule is None:
            return None
        row = self.store.raise_for_event(event, rule)
        if row is None:
            return None
        message = alarm_message(row, "raised")
        self.publish(message)
        return message

    def escalate(self) -> list[dict[str, Any]]:
        messages = []
        for row in self.store.escalate_due():
            message = alarm_message(row, "escalated")
            message["notify"] = list(self.config.supervisor_roles)
            self.publish(message)
            messages.append(message)
        return messages

    def _heard(self, topic: str, message: dict[str, Any]) -> None:
        # Called on the publisher's thread (a detector's, in one process): queue and return at once.
        if message.get("phase") != "start":
            return
        try:
            self._events.put_nowait(message)
        except queue.Full:
            log.error("alarm queue full; event %s raised no alarm", message.get("id"))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                event = self._events.get(timeout=self.config.escalation_check_seconds)
            except queue.Empty:
                event = None
            try:
                if event is not None:
                    self.handle_event(event)
                self.escalate()
            except Exception:
                log.exception("alarm handling failed")
            self.rounds += 1
