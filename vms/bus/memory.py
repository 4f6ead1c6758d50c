"""The in-process bus of the all-in-one ``vms run``."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import defaultdict
from typing import Any, AsyncIterator, Callable

from vms.bus.base import Bus, Listener

log = logging.getLogger(__name__)

# A subscriber that falls this far behind loses the oldest messages rather than memory.
SUBSCRIBER_QUEUE = 1000


class Subscribers:
    """Who hears each topic in this process: asyncio subscribers and listener callbacks.

    ``on_first(topic)`` is called when a topic gets its first subscriber of either kind (a bus
    that relays through a broker subscribes there then)."""

    def __init__(self, on_first: Callable[[str], None] = lambda topic: None) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[dict[str, Any]]]]] = defaultdict(list)
        self._listeners: dict[str, list[Listener]] = defaultdict(list)
        self._on_first = on_first

    def topics(self) -> list[str]:
        with self._lock:
            return [t for t in set(self._queues) | set(self._listeners) if self._queues[t] or self._listeners[t]]

    def deliver(self, topic: str, message: dict[str, Any]) -> None:
        with self._lock:
            queues = list(self._queues.get(topic, ()))
            listeners = list(self._listeners.get(topic, ()))
        for loop, queue in queues:
            try:
                loop.call_soon_threadsafe(_offer, queue, message)
            except RuntimeError:
                pass  # that subscriber's loop has closed
        for listener in listeners:
            try:
                listener(topic, message)
            except Exception:
                log.exception("bus listener for %s failed", topic)

    async def subscribe(self, topic: str) -> AsyncIterator[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(SUBSCRIBER_QUEUE)
        entry = (asyncio.get_running_loop(), queue)
        with self._lock:
            first = not self._queues[topic] and not self._listeners[topic]
            self._queues[topic].append(entry)
        if first:
            self._on_first(topic)
        try:
            while True:
                yield await queue.get()
        finally:
            with self._lock:
                self._queues[topic].remove(entry)

    def add_listener(self, topic: str, listener: Listener) -> Callable[[], None]:
        with self._lock:
            first = not self._queues[topic] and not self._listeners[topic]
            self._listeners[topic].append(listener)
        if first:
            self._on_first(topic)

        def remove() -> None:
            with self._lock:
                if listener in self._listeners[topic]:
                    self._listeners[topic].remove(listener)

        return remove


class MemoryBus(Bus):
    def __init__(self) -> None:
        self._subscribers = Subscribers()

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        self._subscribers.deliver(topic, message)

    def subscribe(self, topic: str) -> AsyncIterator[dict[str, Any]]:
        return self._subscribers.subscribe(topic)

    def add_listener(self, topic: str, listener: Listener) -> Callable[[], None]:
        return self._subscribers.add_listener(topic, listener)


def _offer(queue: asyncio.Queue[dict[str, Any]], message: dict[str, Any]) -> None:
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(message)
