"""Publishing on the Redis bus never waits for Redis: a worker publishes its streams' statuses
from the packet path, so a Redis that hangs must not hold a camera's packets."""

from __future__ import annotations

import socket
import time

from vms.bus.redis import RedisBus


def test_publish_returns_at_once_when_redis_accepts_but_never_answers():
    # A black hole: the port accepts connections (the kernel's backlog) and nobody ever answers,
    # as a Redis shutting down or a host behind a dropped network. The old publish waited out
    # its 5 s socket timeout here, in the caller's thread.
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)
    bus = RedisBus(f"redis://127.0.0.1:{hole.getsockname()[1]}/0", "vms:test:")
    try:
        started = time.monotonic()
        for n in range(50):
            bus.publish("camera.status", {"camera_id": "cam", "n": n})
        took = time.monotonic() - started
        assert took < 0.5, f"50 publishes took {took:.1f} s: the caller waited for Redis"
    finally:
        closing = time.monotonic()
        bus.close()
        hole.close()
    assert time.monotonic() - closing < 10  # close gives the queue 2 s, then lets go
