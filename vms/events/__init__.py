"""Events: what detectors and camera health raise, stored, published and handed to other systems."""

from vms.events.recorder import EVENTS_TOPIC, EventRecorder
from vms.events.store import EventQuery, EventStore, event_message

__all__ = ["EVENTS_TOPIC", "EventQuery", "EventRecorder", "EventStore", "event_message"]
