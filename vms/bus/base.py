"""One small publish/subscribe interface; the backend is chosen by URL (``memory://``, ``local://``, ``redis://``).

Publishing is synchronous and thread-safe because stream workers are threads; subscribing
is either an async iterator (the API) or a callback run in a background thread (workers).
Messages are JSON-able dicts.
"""

from __future__ import annotations

import abc
from typing import Any, AsyncIterator, Callable

Listener = Callable[[str, dict[str, Any]], None]


class Bus(abc.ABC):
    @abc.abstractmethod
    def publish(self, topic: str, message: dict[str, Any]) -> None:
        """Send ``message`` to every subscriber of ``topic``; never blocks for long."""

    @abc.abstractmethod
    def subscribe(self, topic: str) -> AsyncIterator[dict[str, Any]]:
        """Messages published on ``topic`` from now on, until the iterator is closed."""

    @abc.abstractmethod
    def add_listener(self, topic: str, listener: Listener) -> Callable[[], None]:
        """Call ``listener(topic, message)`` for each message; returns a function that removes it."""

    def close(self) -> None:
        """Release connections and threads."""


def bus_from_url(url: str, prefix: str = "vms:") -> Bus:
    """The bus of ``url``; on Redis every channel starts with ``prefix`` (one deployment's key prefix)."""
    scheme = url.split("://", 1)[0]
    if scheme == "memory":
        from vms.bus.memory import MemoryBus

        return MemoryBus()
    if scheme == "local":
        from vms.bus.local import LocalBus

        return LocalBus(url)
    if scheme in ("redis", "rediss", "unix"):
        from vms.bus.redis import RedisBus

        return RedisBus(url, prefix)
    raise ValueError(f"unknown bus URL scheme '{scheme}://' (use memory://, local:///<socket> or redis://)")
