"""One log line per cause per period: a Redis outage must not flood the log.

During an outage every bus listener thread, every publish and every queue consumer fails about
once a second (trial 11: ~10 WARNING lines a second per worker), burying the lines that matter.
``LogLimiter`` writes the first line of a cause at once, drops the repeats for ``period``
seconds, and adds how many it dropped to the next line it writes; ``recovered`` writes one INFO
line when the cause is over, with the count of lines dropped since the last one.
"""

from __future__ import annotations

import logging
import threading
import time

PERIOD_SECONDS = 30.0


class LogLimiter:
    """Rate-limits ``logger``'s lines by cause (a short key such as ``"publish"``)."""

    def __init__(self, logger: logging.Logger, period: float = PERIOD_SECONDS) -> None:
        self.logger = logger
        self.period = period
        self._last: dict[str, float] = {}  # cause -> monotonic time of its last line written
        self._dropped: dict[str, int] = {}
        self._lock = threading.Lock()

    def log(self, level: int, cause: str, message: str, *args: object) -> bool:
        """Log ``message % args`` unless ``cause`` was logged less than ``period`` s ago; True when written."""
        now = time.monotonic()
        with self._lock:
            last = self._last.get(cause)
            if last is not None and now - last < self.period:
                self._dropped[cause] = self._dropped.get(cause, 0) + 1
                return False
            self._last[cause] = now
            dropped = self._dropped.pop(cause, 0)
        if dropped:
            message += f" ({dropped} similar lines in the last {self.period:g} s not shown)"
        self.logger.log(level, message, *args)
        return True

    def warning(self, cause: str, message: str, *args: object) -> bool:
        return self.log(logging.WARNING, cause, message, *args)

    def recovered(self, cause: str, message: str, *args: object) -> None:
        """The failure ``cause`` is over: one INFO line (when it was logged at all), and the
        next failure is logged at once."""
        with self._lock:
            if cause not in self._last:
                return
            del self._last[cause]
            dropped = self._dropped.pop(cause, 0)
        if dropped:
            message += f" ({dropped} similar failures not shown)"
        self.logger.info(message, *args)
