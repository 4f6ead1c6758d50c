"""``Periodic``: the one way a component runs work on a background thread every few seconds.

Start and stop are the same everywhere: ``start()`` launches a daemon thread, ``stop()`` asks it
to end, wakes it and joins it; ``wake()`` runs the next ``tick`` now instead of after the
interval. An exception in ``tick`` is logged and the loop goes on: a background task that died
silently is worse than one that keeps failing loudly.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod

log = logging.getLogger(__name__)


class Periodic(ABC):
    """Calls ``tick()`` every ``interval`` seconds (or sooner when woken) on thread ``name``."""

    def __init__(self, name: str, interval: float, first_tick: bool = False) -> None:
        """``first_tick``: tick once right after ``start`` instead of after the first interval."""
        self.interval = interval
        self._first_tick = first_tick
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    @abstractmethod
    def tick(self) -> None:
        """One round of the work; each subclass defines it."""

    def start(self) -> "Periodic":
        """Start the thread (once)."""
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """End the loop after the current tick (waits up to ``timeout`` seconds for it)."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def wake(self) -> None:
        """Tick now rather than at the end of the interval."""
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _loop(self) -> None:
        if not self._first_tick:
            self._wake.wait(self.interval)
            self._wake.clear()
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("%s: periodic task failed", self._thread.name)
            self._wake.wait(self.interval)
            self._wake.clear()
