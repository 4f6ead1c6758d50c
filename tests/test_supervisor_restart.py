"""The embedded supervisor restarts a dead child at once, then backs off while it keeps dying
(stand-in children: ``sleep`` processes, so only the supervisor's own timing is measured)."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import pytest

from tests.support.cluster import free_port, wait_for
from vmsapp.supervisor import BACKOFF_SECOND, Child, Supervisor

pytestmark = pytest.mark.timeout(60)

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def test_a_dead_child_is_started_again_at_once_then_after_a_backoff(tmp_path):
    supervisor = Supervisor(None, tmp_path, "127.0.0.1", free_port())
    supervisor.children = [Child("worker", SLEEPER)]
    supervisor.start()
    keeper = threading.Thread(target=supervisor.keep, daemon=True)
    keeper.start()
    child = supervisor.child("worker")
    try:
        first = child.process.pid
        os.kill(first, signal.SIGKILL)
        killed = time.monotonic()
        wait_for(lambda: child.process is not None and child.process.pid != first, 5, "not restarted", interval=0.01)
        again_after = time.monotonic() - killed
        # Before: noticed by a 0.5 s poll, then a 1 s backoff.
        assert again_after < 0.5, f"restarted only after {again_after:.2f} s"
        second = child.process.pid
        os.kill(second, signal.SIGKILL)  # dying again at once: now it waits its backoff
        killed = time.monotonic()
        wait_for(lambda: child.process is not None and child.process.pid != second, 10, "not restarted", interval=0.01)
        backoff_after = time.monotonic() - killed
        assert BACKOFF_SECOND * 0.9 <= backoff_after < BACKOFF_SECOND + 1.5, backoff_after
        assert child.restarts == 2 and len(child.history) == 2
        print(f"restarted {again_after:.3f} s after the first kill, {backoff_after:.2f} s after the second")
    finally:
        supervisor.request_stop()
        keeper.join(5)
        supervisor.stop()
