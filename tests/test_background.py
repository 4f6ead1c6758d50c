"""``Periodic``: ticks on its interval, at once when woken, survives a failing tick, stops and joins."""

from __future__ import annotations

import threading
import time

from vms.background import Periodic


class Counter(Periodic):
    def __init__(self, interval: float, first_tick: bool = False, fail_first: bool = False) -> None:
        super().__init__("counter", interval, first_tick=first_tick)
        self.ticks = 0
        self.fail_first = fail_first
        self.ticked = threading.Condition()

    def tick(self) -> None:
        with self.ticked:
            self.ticks += 1
            self.ticked.notify_all()
        if self.fail_first and self.ticks == 1:
            raise RuntimeError("first tick fails")

    def wait_ticks(self, count: int, timeout: float = 10) -> bool:
        with self.ticked:
            return self.ticked.wait_for(lambda: self.ticks >= count, timeout)


def test_first_tick_at_once_then_on_wake_and_stop_joins():
    loop = Counter(interval=3600, first_tick=True).start()
    try:
        assert loop.wait_ticks(1), "first_tick runs right after start"
        loop.wake()
        assert loop.wait_ticks(2), "wake runs a tick without waiting an hour"
    finally:
        started = time.monotonic()
        loop.stop(5)
    assert time.monotonic() - started < 5 and not loop._thread.is_alive() and loop.stopping


def test_a_failing_tick_is_logged_and_the_loop_goes_on(caplog):
    loop = Counter(interval=0.01, fail_first=True).start()
    try:
        assert loop.wait_ticks(3), "the loop died with its first tick"
    finally:
        loop.stop()
    assert "periodic task failed" in caplog.text


def test_without_first_tick_nothing_runs_before_the_interval():
    loop = Counter(interval=3600).start()
    try:
        assert not loop.wait_ticks(1, timeout=0.3)
    finally:
        loop.stop()
    assert loop.ticks == 0
